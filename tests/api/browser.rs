//! A real browser: Debian's headless chromium driven over WebDriver (chromedriver). Two people
//! in two sessions; a message appears for the other without a reload, and the badge of
//! another channel goes up live. Skipped, saying so, where chromium or chromedriver is missing
//! (`.ci/run` installs both).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::helpers::{self, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Option<Driver> {
    if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists() {
        helpers::skipped(
            &format!("{CHROMIUM} and {CHROMEDRIVER}"),
            "apt-get install chromium chromium-driver",
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    // Owned by `Driver` at once, so that it is killed and reaped on every path.
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

async fn browser(driver: &Driver) -> Client {
    let profile =
        std::env::temp_dir().join(format!("natter-chromium-{}", uuid::Uuid::new_v4().simple()));
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,800", format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a chromium session starts")
}

async fn log_in(client: &Client, base: &str, email: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    client
        .find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    client
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("password123")
        .await
        .unwrap();
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.wait().for_element(Locator::Css("h1")).await.unwrap();
}

#[tokio::test]
async fn two_people_in_two_browsers_chat_live() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let random = ada.create_channel(&slug, "random", false).await;
    bob.post_form(&format!("/w/{slug}/c/{random}/join"), &[])
        .await;

    let ada_browser = browser(&driver).await;
    let bob_browser = browser(&driver).await;
    log_in(&ada_browser, &app.base, "ada@example.com").await;
    log_in(&bob_browser, &app.base, "bob@example.com").await;
    bob_browser
        .goto(&format!("{}/w/{slug}/c/{general}", app.base))
        .await
        .unwrap();
    ada_browser
        .goto(&format!("{}/w/{slug}/c/{general}", app.base))
        .await
        .unwrap();
    // Both pages are connected once the script has had its `ready`.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // A marker that a reload would wipe out.
    bob_browser
        .execute("window.natterMarker = 42", vec![])
        .await
        .unwrap();

    let composer = ada_browser
        .find(Locator::Css("textarea[aria-label='Message #general']"))
        .await
        .unwrap();
    composer
        .send_keys("Hello from a real browser\u{E007}")
        .await
        .unwrap(); // U+E007 is Enter
    let live = bob_browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//div[@class='message-body']/p[text()='Hello from a real browser']",
        ))
        .await;
    assert!(live.is_ok(), "the message appears for bob without a reload");
    let own = ada_browser
        .find_all(Locator::XPath("//p[text()='Hello from a real browser']"))
        .await
        .unwrap();
    assert_eq!(own.len(), 1, "ada sees her message once");

    // A mention in #random while bob looks at #general: its badge goes up live.
    ada_browser
        .goto(&format!("{}/w/{slug}/c/{random}", app.base))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let composer = ada_browser
        .find(Locator::Css("textarea[aria-label='Message #random']"))
        .await
        .unwrap();
    composer
        .send_keys("@bob have a look\u{E007}")
        .await
        .unwrap();
    let badge = bob_browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!(
            "a.sidebar-link[data-channel-id='{random}'] .badge"
        )))
        .await
        .expect("the #random badge appears live");
    assert_eq!(badge.text().await.unwrap(), "1");
    let marker = bob_browser
        .execute("return window.natterMarker", vec![])
        .await
        .unwrap();
    assert_eq!(marker, json!(42), "bob's page was never reloaded");

    ada_browser.close().await.unwrap();
    bob_browser.close().await.unwrap();
}

/// Saves what the browser shows, for a person to look at (`NATTER_SCREENSHOTS=<dir>`).
async fn screenshot(client: &Client, name: &str) {
    if let Ok(dir) = std::env::var("NATTER_SCREENSHOTS") {
        let png = client.screenshot().await.unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

/// Clicks the submit button of the form whose action ends with `action`, accepting the
/// page's confirmation.
async fn submit(client: &Client, action: &str) {
    client
        .execute("window.confirm = () => true", vec![])
        .await
        .unwrap();
    client
        .find(Locator::Css(&format!(
            "form[action$='{action}'] button[type=submit]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admin_offboards_a_person_archives_a_channel_and_reads_the_audit_log_in_a_browser() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let launch = ada.create_channel(&slug, "launch", false).await;
    bob.send(&slug, general, "my last day", None).await;
    let bob_id = helpers::user_id(&app, "bob").await;

    let ada_browser = browser(&driver).await;
    let bob_browser = browser(&driver).await;
    log_in(&ada_browser, &app.base, "ada@example.com").await;
    log_in(&bob_browser, &app.base, "bob@example.com").await;
    bob_browser
        .goto(&format!("{}/w/{slug}/c/{general}", app.base))
        .await
        .unwrap();

    // Offboarding: the members page, Deactivate on bob's row.
    ada_browser
        .goto(&format!("{}/w/{slug}", app.base))
        .await
        .unwrap();
    ada_browser
        .find(Locator::LinkText("Administration"))
        .await
        .expect("admins see Administration in the sidebar")
        .click()
        .await
        .unwrap();
    ada_browser
        .wait()
        .for_element(Locator::Id(&format!("member-{bob_id}")))
        .await
        .unwrap();
    screenshot(&ada_browser, "admin-members").await;
    submit(&ada_browser, &format!("/admin/members/{bob_id}/deactivate")).await;
    let row = ada_browser
        .wait()
        .for_element(Locator::Css(&format!("tr#member-{bob_id}.deactivated")))
        .await
        .expect("bob's row shows him deactivated");
    assert!(row.text().await.unwrap().contains("Deactivated"));
    // Bob's open page loses the workspace: a reload is a 404 page.
    tokio::time::sleep(Duration::from_millis(500)).await;
    bob_browser.refresh().await.unwrap();
    let heading = bob_browser
        .wait()
        .for_element(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(heading, "Not found");

    // Archiving: the channel's details, Archive channel.
    ada_browser
        .goto(&format!("{}/w/{slug}/c/{launch}/details", app.base))
        .await
        .unwrap();
    submit(&ada_browser, &format!("/c/{launch}/manage/archive")).await;
    ada_browser
        .wait()
        .for_element(Locator::Css(&format!(
            "form[action$='/c/{launch}/manage/unarchive']"
        )))
        .await
        .expect("the channel offers Unarchive once archived");
    ada_browser
        .goto(&format!("{}/w/{slug}/c/{launch}", app.base))
        .await
        .unwrap();
    let banner = ada_browser
        .find(Locator::Css(".archived-bar"))
        .await
        .expect("an archived channel says so")
        .text()
        .await
        .unwrap();
    assert!(banner.contains("archived"), "{banner}");
    screenshot(&ada_browser, "archived-channel").await;

    // The audit log has both, newest first.
    ada_browser
        .goto(&format!("{}/w/{slug}/admin/audit", app.base))
        .await
        .unwrap();
    let rows = ada_browser
        .find_all(Locator::Css(".admin-table tbody tr"))
        .await
        .unwrap();
    let mut texts = Vec::new();
    for row in &rows {
        texts.push(row.text().await.unwrap());
    }
    assert!(texts[0].contains("channel.archive"), "{texts:?}");
    assert!(
        texts[1].contains("member.deactivate") && texts[1].contains("@bob"),
        "{texts:?}"
    );
    screenshot(&ada_browser, "audit-log").await;

    ada_browser.close().await.unwrap();
    bob_browser.close().await.unwrap();
}
