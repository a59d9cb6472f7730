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
    browser_with_prefs(driver, json!({})).await
}

/// A browser whose profile has already allowed this site's notifications, as a person would
/// by answering the permission prompt.
async fn browser_allowing_notifications(driver: &Driver) -> Client {
    let prefs = json!({ "profile.default_content_setting_values.notifications": 1 });
    browser_with_prefs(driver, prefs).await
}

async fn browser_with_prefs(driver: &Driver, prefs: serde_json::Value) -> Client {
    let profile =
        std::env::temp_dir().join(format!("natter-chromium-{}", uuid::Uuid::new_v4().simple()));
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,800", format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": prefs,
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
    until(
        &ada_browser,
        "document.body.dataset.live === 'ready'",
        "Ada's page is live",
    )
    .await;
    until(
        &bob_browser,
        "document.body.dataset.live === 'ready'",
        "Bob's page is live",
    )
    .await;
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
    until(
        &ada_browser,
        "document.body.dataset.live === 'ready'",
        "Ada's page is live",
    )
    .await;
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

/// Clicks an element through the page's script: hover toolbars are transparent until the
/// pointer is over the message, which WebDriver's synthetic pointer does not always reach.
async fn click_css(client: &Client, css: &str) {
    let element = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} is on the page"));
    client
        .execute(
            "arguments[0].click()",
            vec![serde_json::to_value(&element).unwrap()],
        )
        .await
        .unwrap();
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} appears"))
        .text()
        .await
        .unwrap()
}

/// Waits until the script's `condition` (an expression) is true in the page.
async fn until(client: &Client, condition: &str, what: &str) {
    for _ in 0..100 {
        let value = client
            .execute(&format!("return Boolean({condition})"), vec![])
            .await
            .unwrap();
        if value == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: `{condition}` never held");
}

#[tokio::test]
async fn two_people_reply_in_a_thread_and_react_in_two_browsers() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let root = ada.send(&slug, general, "Plan for Friday?", None).await["seq"]
        .as_i64()
        .unwrap();
    let channel = format!("{}/w/{slug}/c/{general}", app.base);

    let ada_browser = browser(&driver).await;
    let bob_browser = browser(&driver).await;
    log_in(&ada_browser, &app.base, "ada@example.com").await;
    log_in(&bob_browser, &app.base, "bob@example.com").await;
    ada_browser.goto(&channel).await.unwrap();
    bob_browser.goto(&channel).await.unwrap();
    until(
        &ada_browser,
        "document.body.dataset.live === 'ready'",
        "Ada's page is live",
    )
    .await;
    until(
        &bob_browser,
        "document.body.dataset.live === 'ready'",
        "Bob's page is live",
    )
    .await;
    ada_browser
        .execute("window.natterMarker = 7", vec![])
        .await
        .unwrap();

    // Bob opens the thread from the message's toolbar and replies in the panel.
    click_css(
        &bob_browser,
        &format!("#m-{root} [data-open-thread='{root}']"),
    )
    .await;
    let reply_box = bob_browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            ".thread-panel textarea[aria-label='Reply in thread']",
        ))
        .await
        .expect("the thread panel opens with its own composer");
    until(
        &bob_browser,
        "document.body.dataset.live === 'ready'",
        "Bob's thread page is live",
    )
    .await;
    reply_box.send_keys("Pizza at noon\u{E007}").await.unwrap();
    // Ada's channel shows the root's "1 reply" line live, and the reply is not in her channel.
    let summary = text_of(&ada_browser, &format!("#m-{root} .thread-summary strong")).await;
    assert_eq!(summary, "1 reply");
    let in_channel = ada_browser
        .find_all(Locator::XPath(
            "//section[contains(@class,'messages')]//p[text()='Pizza at noon']",
        ))
        .await
        .unwrap();
    assert!(
        in_channel.is_empty(),
        "a reply stays out of the channel view"
    );
    screenshot(&ada_browser, "thread-summary").await;

    // Ada opens the thread; Bob's next reply, sent also to the channel, arrives in both places.
    click_css(&ada_browser, &format!("#m-{root} .thread-summary")).await;
    ada_browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//aside[contains(@class,'thread-panel')]//p[text()='Pizza at noon']",
        ))
        .await
        .expect("the panel shows the reply");
    until(
        &ada_browser,
        "document.body.dataset.live === 'ready'",
        "Ada's thread page is live",
    )
    .await;
    ada_browser
        .execute("window.natterMarker = 8", vec![])
        .await
        .unwrap();
    click_css(&bob_browser, ".thread-panel input[name=broadcast]").await;
    bob_browser
        .find(Locator::Css(".thread-panel textarea"))
        .await
        .unwrap()
        .send_keys("Booked for 12:30\u{E007}")
        .await
        .unwrap();
    for place in [
        "aside[contains(@class,'thread-panel')]",
        "section[contains(@class,'messages')]",
    ] {
        ada_browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(&format!(
                "//{place}//p[text()='Booked for 12:30']"
            )))
            .await
            .unwrap_or_else(|_| panic!("the broadcast reply shows in {place}"));
    }

    // Ada reacts to Bob's first reply with the picker: search, Enter.
    let first_reply = root + 1;
    click_css(&ada_browser, &format!("#t-{first_reply} [data-react]")).await;
    let search = ada_browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(".emoji-picker input"))
        .await
        .expect("the picker opens");
    search.send_keys("tada").await.unwrap();
    until(
        &ada_browser,
        "document.querySelector('.emoji-results .emoji-choice')?.title === ':tada:'",
        "the search finds :tada: first",
    )
    .await;
    screenshot(&ada_browser, "emoji-picker").await;
    search.send_keys("\u{E007}").await.unwrap();
    let chip = format!("#t-{first_reply} .reaction[data-name='tada']");
    until(
        &bob_browser,
        &format!("document.querySelector(\"{chip} .count\")?.textContent === '1'"),
        "Bob sees Ada's reaction live",
    )
    .await;
    let title = bob_browser
        .find(Locator::Css(&chip))
        .await
        .unwrap()
        .attr("title")
        .await
        .unwrap();
    assert_eq!(title.as_deref(), Some("Ada reacted with :tada:"));

    // Bob adds his by clicking the chip: both see 2, and his chip is pressed.
    click_css(&bob_browser, &chip).await;
    until(
        &ada_browser,
        &format!("document.querySelector(\"{chip} .count\")?.textContent === '2'"),
        "Ada sees two",
    )
    .await;
    until(
        &bob_browser,
        &format!("document.querySelector(\"{chip}\")?.getAttribute('aria-pressed') === 'true'"),
        "Bob's chip is pressed",
    )
    .await;
    screenshot(&bob_browser, "thread-with-reactions").await;

    // The composer completes `:` and `@`.
    let composer = ada_browser
        .find(Locator::Css(".thread-panel textarea"))
        .await
        .unwrap();
    composer.send_keys("thanks :tad").await.unwrap();
    until(
        &ada_browser,
        "document.querySelector('.thread-panel .completion li')?.textContent.includes(':tada:')",
        "`:` completes emoji",
    )
    .await;
    composer.send_keys("\u{E007}@bo").await.unwrap();
    until(
        &ada_browser,
        "document.querySelector('.thread-panel .completion li')?.textContent.startsWith('@bob')",
        "`@` completes people",
    )
    .await;
    composer.send_keys("\u{E007}").await.unwrap();
    let value = ada_browser
        .execute(
            "return document.querySelector('.thread-panel textarea').value",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(value, json!("thanks :tada: @bob "));
    let marker = ada_browser
        .execute("return window.natterMarker", vec![])
        .await
        .unwrap();
    assert_eq!(
        marker,
        json!(8),
        "everything after opening the thread came live"
    );

    // On a phone the thread is a full-screen view over its channel.
    bob_browser.set_window_size(390, 844).await.unwrap();
    bob_browser
        .goto(&format!("{channel}?thread={root}"))
        .await
        .unwrap();
    let covers = bob_browser
        .execute(
            "const r = document.querySelector('.thread-panel').getBoundingClientRect();
             return r.left <= 0 && r.top <= 0 && r.width >= window.innerWidth && r.height >= window.innerHeight",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(covers, json!(true), "the thread fills a phone's screen");
    screenshot(&bob_browser, "thread-phone").await;

    ada_browser.close().await.unwrap();
    bob_browser.close().await.unwrap();
}

/// Ada and Bob in one workspace, each in a browser on #general with the page live.
async fn two_live_in_general(app: &TestApp, driver: &Driver) -> (Client, Client) {
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let channel = format!("{}/w/{slug}/c/{general}", app.base);
    let ada_browser = browser(driver).await;
    let bob_browser = browser(driver).await;
    log_in(&ada_browser, &app.base, "ada@example.com").await;
    log_in(&bob_browser, &app.base, "bob@example.com").await;
    for (who, name) in [(&ada_browser, "Ada"), (&bob_browser, "Bob")] {
        who.goto(&channel).await.unwrap();
        until(
            who,
            "document.body.dataset.live === 'ready'",
            &format!("{name}'s page is live"),
        )
        .await;
    }
    (ada_browser, bob_browser)
}

#[tokio::test]
async fn a_pasted_image_shows_as_a_thumbnail_in_the_other_persons_window() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (ada_browser, bob_browser) = two_live_in_general(&app, &driver).await;

    // Ada pastes a screenshot (a canvas drawn as a PNG, put on a paste event as the clipboard
    // would), waits for its upload, and sends it with a comment.
    ada_browser
        .execute(
            r##"const canvas = document.createElement("canvas");
               canvas.width = 800; canvas.height = 400;
               const g = canvas.getContext("2d");
               g.fillStyle = "#3366cc"; g.fillRect(0, 0, 800, 400);
               g.fillStyle = "#ffffff"; g.fillRect(100, 100, 200, 100);
               canvas.toBlob((blob) => {
                 const data = new DataTransfer();
                 data.items.add(new File([blob], "screenshot.png", { type: "image/png" }));
                 const box = document.querySelector("form.composer textarea[name=text]");
                 box.focus();
                 box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
               }, "image/png");"##,
            vec![],
        )
        .await
        .unwrap();
    until(
        &ada_browser,
        "document.querySelector('.composer-files [data-state=done]') !== null",
        "the pasted image is uploaded",
    )
    .await;
    screenshot(&ada_browser, "upload-chip").await;
    let composer = ada_browser
        .find(Locator::Css("form.composer textarea[name=text]"))
        .await
        .unwrap();
    composer.send_keys("the new layout\u{E007}").await.unwrap();

    // Bob's window shows the server's thumbnail live, and it has loaded.
    until(
        &bob_browser,
        "(() => { const img = document.querySelector('.message-files img[src$=\"/thumb\"]'); return img !== null && img.complete && img.naturalWidth === 360; })()",
        "Bob sees the thumbnail, 360 px wide",
    )
    .await;
    screenshot(&bob_browser, "pasted-image").await;
    // The lightbox opens on a click and closes with Esc.
    click_css(&bob_browser, ".message-files a.lightbox-link").await;
    until(
        &bob_browser,
        "document.querySelector('dialog.lightbox[open]') !== null",
        "the lightbox opens",
    )
    .await;
    screenshot(&bob_browser, "lightbox").await;
    bob_browser
        .find(Locator::Css("dialog.lightbox[open]"))
        .await
        .unwrap()
        .send_keys("\u{E00C}")
        .await
        .unwrap();
    until(
        &bob_browser,
        "document.querySelector('dialog.lightbox[open]') === null",
        "Esc closes the lightbox",
    )
    .await;
    let shared: i64 = sqlx::query_scalar("select count(*) from file_shares")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(shared, 1);
}

#[tokio::test]
async fn dropped_files_can_be_cancelled_before_sending_and_the_lightbox_steps_with_the_arrows() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (ada_browser, bob_browser) = two_live_in_general(&app, &driver).await;

    // Ada drops three files on the conversation (as a drag from the desktop delivers them):
    // two pictures and a text file; she removes the text file's chip before sending.
    ada_browser
        .execute(
            r##"const picture = (colour, name) => new Promise((done) => {
                 const canvas = document.createElement("canvas");
                 canvas.width = 500; canvas.height = 250;
                 const g = canvas.getContext("2d");
                 g.fillStyle = colour; g.fillRect(0, 0, 500, 250);
                 canvas.toBlob((blob) => done(new File([blob], name, { type: "image/png" })), "image/png");
               });
               Promise.all([picture("#cc3333", "red.png"), picture("#33aa55", "green.png")]).then((pictures) => {
                 const data = new DataTransfer();
                 pictures.forEach((p) => data.items.add(p));
                 data.items.add(new File(["not for sharing\n"], "draft.txt", { type: "text/plain" }));
                 const target = document.querySelector(".conversation .messages") || document.querySelector(".conversation");
                 for (const type of ["dragenter", "dragover", "drop"]) {
                   target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
                 }
               });"##,
            vec![],
        )
        .await
        .unwrap();
    until(
        &ada_browser,
        "document.querySelectorAll('.conversation .composer-files [data-state=done]').length === 3",
        "the three dropped files are uploaded",
    )
    .await;
    screenshot(&ada_browser, "dropped-files").await;
    ada_browser
        .execute(
            r#"const chip = [...document.querySelectorAll(".conversation .upload-chip")]
                 .find((c) => c.querySelector(".upload-name").textContent === "draft.txt");
               chip.querySelector(".upload-remove").click();"#,
            vec![],
        )
        .await
        .unwrap();
    until(
        &ada_browser,
        "document.querySelectorAll('.conversation .upload-chip').length === 2",
        "the removed file's chip is gone",
    )
    .await;
    let composer = ada_browser
        .find(Locator::Css(
            ".conversation form.composer textarea[name=text]",
        ))
        .await
        .unwrap();
    composer.send_keys("two colours\u{E007}").await.unwrap();

    // Bob sees the two pictures and not the removed file; the lightbox steps between them.
    until(
        &bob_browser,
        "document.querySelectorAll('.message-files a.lightbox-link').length === 2",
        "Bob sees both pictures",
    )
    .await;
    let page = bob_browser.source().await.unwrap();
    assert!(
        !page.contains("draft.txt"),
        "the removed file was not shared"
    );
    click_css(&bob_browser, ".message-files a.lightbox-link").await;
    until(
        &bob_browser,
        "document.querySelector('dialog.lightbox[open]') !== null",
        "the lightbox opens",
    )
    .await;
    let name = |client: &Client| {
        let client = client.clone();
        async move {
            client
                .execute(
                    "return document.querySelector('dialog.lightbox .lightbox-name').textContent",
                    vec![],
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(name(&bob_browser).await, "red.png");
    let dialog = bob_browser
        .find(Locator::Css("dialog.lightbox[open]"))
        .await
        .unwrap();
    dialog.send_keys("\u{E014}").await.unwrap(); // →
    until(
        &bob_browser,
        "document.querySelector('dialog.lightbox .lightbox-name').textContent === 'green.png'",
        "→ shows the next picture",
    )
    .await;
    screenshot(&bob_browser, "lightbox-second").await;
    dialog.send_keys("\u{E012}").await.unwrap(); // ←
    until(
        &bob_browser,
        "document.querySelector('dialog.lightbox .lightbox-name').textContent === 'red.png'",
        "← shows the first again",
    )
    .await;
    let shared: i64 = sqlx::query_scalar("select count(*) from file_shares")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(shared, 2);
}

#[tokio::test]
async fn a_dm_shows_a_desktop_notification_from_the_open_tab_and_clicking_it_opens_the_dm() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let dm = ada
        .open_dm(&slug, &[helpers::user_id(&app, "bob").await])
        .await;

    let bob_browser = browser_allowing_notifications(&driver).await;
    log_in(&bob_browser, &app.base, "bob@example.com").await;
    bob_browser
        .goto(&format!("{}/w/{slug}/c/{general}", app.base))
        .await
        .unwrap();
    until(
        &bob_browser,
        "document.body.dataset.live === 'ready'",
        "Bob's page is live",
    )
    .await;
    until(
        &bob_browser,
        "Notification.permission === 'granted'",
        "the profile allows notifications",
    )
    .await;
    // Allowed already: no banner asks again, and the service worker is installed for pushes.
    until(
        &bob_browser,
        "document.getElementById('notify-banner').hidden",
        "the banner stays hidden",
    )
    .await;
    bob_browser
        .execute(
            "navigator.serviceWorker.getRegistration('/').then((r) => { window.__worker = r && (r.active || r.installing || r.waiting) && (r.active || r.installing || r.waiting).scriptURL; });",
            vec![],
        )
        .await
        .unwrap();
    until(
        &bob_browser,
        "window.__worker && window.__worker.endsWith('/sw.js')",
        "/sw.js is registered",
    )
    .await;

    // Watch the real Notification API: every notification the page makes is recorded, and
    // still shown.
    bob_browser
        .execute(
            r#"window.__shown = [];
               const Real = window.Notification;
               window.Notification = class extends Real {
                 constructor(title, options) {
                   super(title, options);
                   window.__shown.push({ title, body: options.body, tag: options.tag });
                   window.__last = this;
                 }
               };"#,
            vec![],
        )
        .await
        .unwrap();
    let focused = bob_browser
        .execute("return document.hasFocus()", vec![])
        .await
        .unwrap();
    assert_eq!(focused, json!(true), "the test's window has focus");

    // A mention in the conversation Bob is looking at does not notify; Ada's DM does.
    ada.send(&slug, general, "@bob see this here", None).await;
    ada.send(&slug, dm, "psst, a word?", None).await;
    until(
        &bob_browser,
        "window.__shown.length >= 1",
        "a desktop notification",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shown = bob_browser
        .execute("return window.__shown", vec![])
        .await
        .unwrap();
    assert_eq!(
        shown,
        json!([{ "title": "Ada", "body": "psst, a word?", "tag": format!("natter-{dm}") }])
    );
    screenshot(&bob_browser, "desktop-notification").await;

    // Clicking it opens the DM at the message.
    bob_browser
        .execute("window.__last.onclick()", vec![])
        .await
        .unwrap();
    until(
        &bob_browser,
        &format!("location.pathname === '/w/{slug}/c/{dm}' && location.hash === '#m-1'"),
        "the DM opened",
    )
    .await;
    // The DM's menu sets its level; the Preferences page has the rest.
    bob_browser
        .execute("document.querySelector('.notify-menu').open = true", vec![])
        .await
        .unwrap();
    screenshot(&bob_browser, "notify-menu").await;
    bob_browser
        .goto(&format!("{}/settings/notifications", app.base))
        .await
        .unwrap();
    until(
        &bob_browser,
        "document.getElementById('notify-state').textContent.includes('are on')",
        "the page says notifications are on in this browser",
    )
    .await;
    screenshot(&bob_browser, "notification-preferences").await;
    bob_browser.close().await.unwrap();
}

#[tokio::test]
async fn a_new_name_picture_and_status_show_in_the_other_persons_window_without_a_reload() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (ada_browser, bob_browser) = two_live_in_general(&app, &driver).await;
    let ada_id = helpers::user_id(&app, "ada").await;
    let composer = ada_browser
        .find(Locator::Css("form.composer textarea[name=text]"))
        .await
        .unwrap();
    composer.send_keys("morning all\u{E007}").await.unwrap();
    let ada_name = format!("[data-user-name='{ada_id}']");
    until(
        &bob_browser,
        &format!("document.querySelector(\".message {ada_name}\") !== null"),
        "Bob sees Ada's message",
    )
    .await;
    // A mark on Bob's page: gone if the page reloads.
    bob_browser
        .execute("window.notReloaded = true", vec![])
        .await
        .unwrap();

    // Ada, in her settings: a new name and status, then a picture with its square chosen.
    ada_browser
        .goto(&format!("{}/settings/profile", app.base))
        .await
        .unwrap();
    let name = ada_browser.find(Locator::Id("display-name")).await.unwrap();
    name.clear().await.unwrap();
    name.send_keys("Ada Lovelace").await.unwrap();
    ada_browser
        .find(Locator::Id("status-emoji"))
        .await
        .unwrap()
        .send_keys(":palm_tree:")
        .await
        .unwrap();
    ada_browser
        .find(Locator::Id("status-text"))
        .await
        .unwrap()
        .send_keys("On holiday")
        .await
        .unwrap();
    submit(&ada_browser, "/settings/profile").await;
    ada_browser
        .wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .unwrap();

    let picture = std::env::temp_dir().join(format!("avatar-{}.png", uuid::Uuid::new_v4()));
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        600,
        400,
        image::Rgb([20, 160, 90]),
    ))
    .write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    std::fs::write(&picture, bytes).unwrap();
    ada_browser
        .find(Locator::Id("avatar"))
        .await
        .unwrap()
        .send_keys(picture.to_str().unwrap())
        .await
        .unwrap();
    until(
        &ada_browser,
        "document.getElementById('crop-size').value === '400'",
        "the cropper shows the picture with the middle square chosen",
    )
    .await;
    screenshot(&ada_browser, "avatar-cropper").await;
    submit(&ada_browser, "/settings/profile/avatar").await;
    ada_browser
        .wait()
        .for_element(Locator::Css("img.avatar.large[data-user-avatar]"))
        .await
        .unwrap();
    let _ = std::fs::remove_file(&picture);

    // Bob's window, never reloaded, shows all three.
    until(
        &bob_browser,
        &format!("document.querySelector(\".message {ada_name}\").textContent === 'Ada Lovelace'"),
        "the new name in Bob's window",
    )
    .await;
    until(
        &bob_browser,
        &format!(
            "(() => {{ const img = document.querySelector(\"img[data-user-avatar='{ada_id}']\");
                 return img !== null && img.complete && img.naturalWidth === 256; }})()"
        ),
        "the new picture in Bob's window, loaded",
    )
    .await;
    until(
        &bob_browser,
        &format!(
            "document.querySelector(\"[data-user-status='{ada_id}']\").textContent === '🌴'
             && !document.querySelector(\"[data-user-status='{ada_id}']\").hidden"
        ),
        "the status beside her name",
    )
    .await;
    until(&bob_browser, "window.notReloaded === true", "no reload").await;

    // Her name opens her card, and Esc closes it.
    click_css(&bob_browser, &format!(".message a{ada_name}")).await;
    until(
        &bob_browser,
        "document.querySelector('.person-popover') !== null
         && document.querySelector('.person-popover').textContent.includes('On holiday')",
        "the card opens with her status",
    )
    .await;
    screenshot(&bob_browser, "profile-card").await;
    bob_browser
        .find(Locator::Css(".person-popover"))
        .await
        .unwrap()
        .send_keys("\u{E00C}")
        .await
        .unwrap();
    until(
        &bob_browser,
        "document.querySelector('.person-popover') === null",
        "Esc closes the card",
    )
    .await;
}

#[tokio::test]
async fn continue_with_sso_logs_in_through_a_real_openid_provider() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let Some(python) = helpers::python_with("import oidc_provider_mock") else {
        helpers::skipped(
            "a Python with oidc-provider-mock",
            ".ci/run installs it in .venv",
        );
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The provider: oidc-provider-mock, with one person whose email it has verified.
    let port = crate::notifications::free_port();
    let mock = python.with_file_name("oidc-provider-mock");
    // Killed when dropped, however the test ends.
    let _provider = tokio::process::Command::new(mock)
        .kill_on_drop(true)
        .args([
            "--port",
            &port.to_string(),
            "--user-claims",
            r#"{"sub": "carol-42", "email": "carol@example.com", "email_verified": true, "name": "Carol Shaw", "preferred_username": "carol"}"#,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("oidc-provider-mock starts");
    let issuer = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "oidc-provider-mock answers");
    let app = TestApp::spawn_configured_with({
        let issuer = issuer.clone();
        move |config| {
            config.oidc = Some(natter::config::OidcConfig {
                issuer,
                client_id: "natter".into(),
                client_secret: "natter-secret".into(),
            });
        }
    })
    .await;

    let carol = browser(&driver).await;
    carol.goto(&format!("{}/login", app.base)).await.unwrap();
    carol
        .find(Locator::Id("sso"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The provider's own page: Carol picks herself.
    let pick = carol
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("button[name=sub][value='carol-42']"))
        .await
        .expect("the provider asks who is signing in");
    screenshot(&carol, "sso-provider").await;
    pick.click().await.unwrap();
    until(
        &carol,
        &format!(
            "location.href.startsWith('{}') && !location.pathname.startsWith('/auth')",
            app.base
        ),
        "back at Natter",
    )
    .await;
    carol
        .goto(&format!("{}/settings/profile", app.base))
        .await
        .unwrap();
    let lead = text_of(&carol, "p.lead").await;
    assert!(
        lead.contains("@carol"),
        "logged in as the new account: {lead}"
    );
    assert_eq!(
        carol
            .find(Locator::Id("display-name"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("Carol Shaw")
    );
    let linked: (String, String) = sqlx::query_as(
        "select i.issuer, u.email from user_identities i join users u on u.id = i.user_id
         where i.subject = 'carol-42'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(linked, (issuer, "carol@example.com".to_owned()));
}
