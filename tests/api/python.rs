//! Slack's own SDKs (Python `slack_sdk`) against a real Natter. `.ci/run` installs them in
//! `.venv`; elsewhere set NATTER_TEST_PYTHON to a Python that has them. Skipped, saying so,
//! when neither is there.

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::{self, TestApp, user_id};

#[tokio::test]
async fn slacks_python_sdk_posts_edits_reads_and_sends_webhooks() {
    let Some(python) = helpers::python_with("import slack_sdk") else {
        helpers::skipped(
            "a Python with slack_sdk",
            ".ci/run makes .venv; or set NATTER_TEST_PYTHON",
        );
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    for n in 0..3 {
        ada.send(&slug, general, &format!("earlier {n}"), None)
            .await;
    }
    let workspace: i64 = sqlx::query_scalar("select id from workspaces where slug = $1")
        .bind(&slug)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let bot = natter::integrations::create_bot(&app.db, workspace, "SDK Bot", None)
        .await
        .unwrap();
    let hook = natter::integrations::create_webhook(
        &app.db,
        workspace,
        general,
        "CI",
        user_id(&app, "ada").await,
    )
    .await
    .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/slack_sdk_client.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .env("NATTER_API_URL", format!("{}/api/", app.base))
        .env("NATTER_TOKEN", &bot.token)
        .env("NATTER_WEBHOOK_URL", format!("{}/hooks/{hook}", app.base))
        .env("NATTER_CHANNEL", format!("C{general}"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim().ends_with("ok"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    let bodies: Vec<String> =
        sqlx::query_scalar("select body from messages where channel_id = $1 order by seq")
            .bind(general)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert!(
        bodies.iter().any(|b| b.starts_with("**Deploy** finished")),
        "{bodies:?}"
    );
}

/// Kills the Bolt app when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn slacks_python_sdk_threads_reacts_and_pins() {
    let Some(python) = helpers::python_with("import slack_sdk") else {
        helpers::skipped(
            "a Python with slack_sdk",
            ".ci/run makes .venv; or set NATTER_TEST_PYTHON",
        );
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let other = ada.create_channel(&slug, "other", false).await;
    // The other channel's seqs overlap the first's, so a ts of one must not name the other's.
    for n in 0..5 {
        ada.send(&slug, other, &format!("other {n}"), None).await;
    }
    let workspace = helpers::workspace_id(&app, &slug).await;
    let bot = natter::integrations::create_bot(&app.db, workspace, "Thread Bot", None)
        .await
        .unwrap();
    for channel in [general, other] {
        natter::channels::db::add_member(&app.db, channel, bot.user_id)
            .await
            .unwrap();
    }
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/slack_sdk_threads.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .env("NATTER_API_URL", format!("{}/api/", app.base))
        .env("NATTER_TOKEN", &bot.token)
        .env("NATTER_CHANNEL", format!("C{general}"))
        .env("NATTER_OTHER_CHANNEL", format!("C{other}"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim().ends_with("ok"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    // What the SDK saw is what is stored: two replies numbered in order under the root.
    let replies: Vec<(i32, bool)> = sqlx::query_as(
        "select reply_index, reply_broadcast from messages
         where channel_id = $1 and thread_root_seq is not null order by seq",
    )
    .bind(general)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(replies, vec![(1, false), (2, true)]);
}

#[tokio::test]
async fn a_slack_bolt_app_receives_a_mention_from_natter_and_answers_through_the_api() {
    let Some(python) = helpers::python_with("import slack_sdk, slack_bolt") else {
        helpers::skipped(
            "a Python with slack_bolt",
            ".ci/run makes .venv; or set NATTER_TEST_PYTHON",
        );
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let workspace: i64 = sqlx::query_scalar("select id from workspaces where slug = $1")
        .bind(&slug)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let bot = natter::integrations::create_bot(&app.db, workspace, "Helper", None)
        .await
        .unwrap();
    natter::channels::db::add_member(&app.db, general, bot.user_id)
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/bolt_app.py");
    let _bolt = Child(
        Command::new(&python)
            .arg(&script)
            .env("NATTER_API_URL", format!("{}/api/", app.base))
            .env("NATTER_TOKEN", &bot.token)
            .env("NATTER_SIGNING_SECRET", &bot.signing_secret)
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}/slack/events");
    let events = vec!["app_mention".to_owned(), "reaction_added".to_owned()];
    let mut verified = false;
    for _ in 0..100 {
        if natter::integrations::events::verify_and_save(&app.state, bot.bot_id, &url, &events)
            .await
            .is_ok()
        {
            verified = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(verified, "Bolt answers Natter's url_verification challenge");
    let mention = ada
        .send(&slug, general, "@helper what time is it?", None)
        .await["seq"]
        .as_i64()
        .unwrap();
    let bot_says = |n: i64| {
        let db = app.db.clone();
        async move {
            for _ in 0..100 {
                let rows: Vec<(i64, String, Option<i64>)> = sqlx::query_as(
                    "select seq, body, thread_root_seq from messages
                     where channel_id = $1 and user_id = $2 order by seq",
                )
                .bind(general)
                .bind(bot.user_id)
                .fetch_all(&db)
                .await
                .unwrap();
                if rows.len() as i64 >= n {
                    return rows;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the Bolt app did not answer");
        }
    };
    let answer = bot_says(1).await.remove(0);
    assert_eq!(
        (answer.1.as_str(), answer.2),
        (
            "Hello @ada, you said: @helper what time is it?",
            Some(mention)
        ),
        "the answer is in the mention's thread"
    );
    let eyes: Vec<(String, i64)> =
        sqlx::query_as("select name, user_id from reactions where channel_id = $1 and seq = $2")
            .bind(general)
            .bind(mention)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(eyes, vec![("eyes".to_owned(), bot.user_id)]);
    // Ada reacts to the answer in the browser; the app hears reaction_added and thanks her in
    // the same thread.
    let response = ada
        .post_form(
            &format!("/w/{slug}/c/{general}/messages/{}/reactions", answer.0),
            &[("name", "tada")],
        )
        .await;
    assert!(response.status().is_redirection(), "{}", response.status());
    let thanks = bot_says(2).await.remove(1);
    assert_eq!(
        (thanks.1.as_str(), thanks.2),
        ("Thanks for the :tada:, @ada", Some(mention))
    );
}

#[tokio::test]
async fn slacks_python_sdk_uploads_files_with_files_upload_v2() {
    let Some(python) = helpers::python_with("import slack_sdk") else {
        helpers::skipped(
            "a Python with slack_sdk",
            ".ci/run makes .venv; or set NATTER_TEST_PYTHON",
        );
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let workspace = helpers::workspace_id(&app, &slug).await;
    let bot = natter::integrations::create_bot(&app.db, workspace, "Files Bot", None)
        .await
        .unwrap();
    natter::channels::db::add_member(&app.db, general, bot.user_id)
        .await
        .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/slack_sdk_files.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .env("NATTER_API_URL", format!("{}/api/", app.base))
        .env("NATTER_TOKEN", &bot.token)
        .env("NATTER_CHANNEL", format!("C{general}"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim().ends_with("ok"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    // Ada sees the two-file message in the page, the picture as a thumbnail.
    let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(
        page.contains("table.csv") && page.contains("/thumb\""),
        "the files are on the page"
    );
}
