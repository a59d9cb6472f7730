//! Passwords and sessions: changing the password ends every other session and its sockets;
//! the sessions page lists each browser and logs out one or all others; a reset link from a
//! real SMTP server (`aiosmtpd`) works once, for an hour, and ends every session; `/forgot`
//! answers the same whether or not an account exists.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{Browser, TestApp, between};
use crate::notifications::{free_port, smtp_sink};
use crate::ws::Ws;

/// A new browser logged in as `email` with `password`; panics if the login fails.
async fn log_in(app: &TestApp, email: &str, password: &str) -> Browser {
    let mut browser = app.browser();
    browser.refresh_csrf("/login").await;
    let response = browser
        .post_form("/login", &[("email", email), ("password", password)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{email} logs in");
    browser.refresh_csrf("/").await;
    browser
}

/// Whether a login with this password works (in a throwaway browser).
async fn password_works(app: &TestApp, email: &str, password: &str) -> bool {
    let mut browser = app.browser();
    browser.refresh_csrf("/login").await;
    browser
        .post_form("/login", &[("email", email), ("password", password)])
        .await
        .status()
        == StatusCode::SEE_OTHER
}

/// Whether this browser is still logged in (its pages are served, not a redirect to log in).
async fn logged_in(browser: &Browser) -> bool {
    browser.get("/settings/sessions").await.status() == StatusCode::OK
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session_and_its_sockets() {
    let app = TestApp::spawn().await;
    let here = app.signup("ada").await;
    let elsewhere = log_in(&app, "ada@example.com", "password123").await;
    let mut socket = Ws::with_cookie(&elsewhere, &app.base).await.unwrap();
    socket.send(json!({ "type": "hello", "cursors": {} })).await;
    socket.next_of("ready").await;

    let long = "x".repeat(10_000);
    for (current, new, says) in [
        (
            "wrong-password",
            "a-new-password",
            "not your current password",
        ),
        ("password123", "short", "at least 8 characters"),
        ("password123", long.as_str(), "too long"),
    ] {
        let answer = here
            .post_form(
                "/settings/password",
                &[("current_password", current), ("new_password", new)],
            )
            .await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(answer.text().await.unwrap().contains(says), "{says}");
    }
    assert!(logged_in(&elsewhere).await, "nothing changed");
    assert!(password_works(&app, "ada@example.com", "password123").await);

    let answer = here
        .post_form(
            "/settings/password",
            &[
                ("current_password", "password123"),
                ("new_password", "a-much-better-one"),
            ],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("Every other session was logged out")
    );
    assert_eq!(socket.close_code().await, Some(CloseCode::Library(4001)));
    assert!(!logged_in(&elsewhere).await, "the other session is over");
    assert!(logged_in(&here).await, "the one that changed it goes on");
    assert!(!password_works(&app, "ada@example.com", "password123").await);
    assert!(password_works(&app, "ada@example.com", "a-much-better-one").await);
}

#[tokio::test]
async fn the_sessions_page_lists_each_browser_and_logs_out_one_or_all_others() {
    let app = TestApp::spawn().await;
    let here = app.signup("ada").await;
    let second = log_in(&app, "ada@example.com", "password123").await;
    let third = log_in(&app, "ada@example.com", "password123").await;
    let (status, html) = here.page("/settings/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("/end\">").count(), 3, "three sessions");
    assert_eq!(html.matches("This browser").count(), 1);
    assert!(html.contains("127.0.0.1"));

    // The second browser's own key, from its own page.
    let (_, theirs) = second.page("/settings/sessions").await;
    let row = theirs
        .split("<li class=\"list-row\">")
        .find(|row| row.contains("This browser"))
        .unwrap();
    let key = between(row, "/settings/sessions/", "/end")
        .unwrap()
        .to_owned();
    // Nobody else can end it.
    let bob = app.signup("bob").await;
    let refused = bob
        .post_form(&format!("/settings/sessions/{key}/end"), &[])
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert!(logged_in(&second).await);

    let ended = here
        .post_form(&format!("/settings/sessions/{key}/end"), &[])
        .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(!logged_in(&second).await);
    assert!(logged_in(&third).await);
    let ended = here.post_form("/settings/sessions/end-others", &[]).await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(!logged_in(&third).await);
    assert!(logged_in(&here).await);
    let (_, html) = here.page("/settings/sessions").await;
    assert_eq!(html.matches("/end\">").count(), 1);
}

#[tokio::test]
async fn a_reset_link_by_mail_works_once_for_an_hour_and_ends_every_session() {
    let port = free_port();
    let Some(mut sink) = smtp_sink(Some(port)).await else {
        return;
    };
    let app = TestApp::spawn_configured_with(|c| {
        c.notify.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    })
    .await;
    let ada = app.signup("ada").await;

    // The same answer for an account and for no account; one mail, to the account.
    let ask = async |email: &str| {
        let mut anyone = app.browser();
        anyone.refresh_csrf("/forgot").await;
        let answer = anyone.post_form("/forgot", &[("email", email)]).await;
        assert_eq!(answer.status(), StatusCode::OK);
        let html = answer.text().await.unwrap();
        between(
            &html,
            "<p class=\"lead\" id=\"forgot-sent\" role=\"status\">",
            "</p>",
        )
        .unwrap()
        .replace(email, "EMAIL")
    };
    assert_eq!(
        ask("ada@example.com").await,
        ask("nobody@example.com").await
    );
    let mail = sink.expect("the reset mail").await;
    assert_eq!(mail["rcpt_tos"], json!(["ada@example.com"]));
    assert_eq!(mail["subject"], "Reset your Natter password");
    assert!(
        sink.drain(Duration::from_secs(2)).await.is_empty(),
        "none for nobody"
    );
    let text = mail["text"].as_str().unwrap();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/reset/"))
        .unwrap()
        .to_owned();
    let path = link.trim_start_matches(&app.base).to_owned();
    let token = path.trim_start_matches("/reset/").to_owned();
    let stored: i64 =
        sqlx::query_scalar("select count(*) from password_resets where token_hash = $1")
            .bind(&token)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, 0, "the token itself is not stored");

    let mut visitor = app.browser();
    visitor.refresh_csrf(&path).await;
    let weak = visitor.post_form(&path, &[("new_password", "short")]).await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(password_works(&app, "ada@example.com", "password123").await);
    let done = visitor
        .post_form(&path, &[("new_password", "reset-and-strong")])
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("reset-done"));
    assert!(!logged_in(&ada).await, "every session ended");
    assert!(password_works(&app, "ada@example.com", "reset-and-strong").await);
    // Once only.
    let again = visitor
        .post_form(&path, &[("new_password", "another-password")])
        .await;
    assert_eq!(again.status(), StatusCode::GONE);
    assert!(password_works(&app, "ada@example.com", "reset-and-strong").await);

    // An hour only.
    ask("ada@example.com").await;
    let mail = sink.expect("a second reset mail").await;
    let link = mail["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.contains("/reset/"))
        .unwrap()
        .to_owned();
    sqlx::query(
        "update password_resets set expires_at = now() - interval '1 second' where used_at is null",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let expired = app.browser().get(link.trim_start_matches(&app.base)).await;
    assert_eq!(expired.status(), StatusCode::GONE);
    assert!(expired.text().await.unwrap().contains("reset-invalid"));
}

#[tokio::test]
async fn without_mail_forgot_says_so_the_same_for_everyone() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let (status, html) = app.browser().page("/forgot").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("forgot-no-mail"));
    let (_, login) = app.browser().page("/login").await;
    assert!(login.contains("href=\"/forgot\""));
}

/// The link in a mail's text that starts with `path`, as a path on the server.
fn link_in(app: &TestApp, mail: &serde_json::Value, path: &str) -> String {
    mail["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.contains(path))
        .expect("the mail has the link")
        .trim_start_matches(&app.base)
        .to_owned()
}

async fn email_of(app: &TestApp, username: &str) -> (String, bool) {
    sqlx::query_as("select email, email_verified_at is not null from users where username = $1")
        .bind(username)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_address_is_confirmed_by_a_link_mailed_to_it_before_it_is_used() {
    let port = free_port();
    let Some(mut sink) = crate::notifications::smtp_sink_with_confirmations(port).await else {
        return;
    };
    let app = TestApp::spawn_configured_with(|c| {
        c.notify.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    })
    .await;

    // Signing up mails a confirmation; its page has a button, so a mail scanner that opens
    // the link confirms nothing.
    let mut ada = app.signup("ada").await;
    let welcome = sink.expect("the confirmation of a new account").await;
    assert_eq!(welcome["rcpt_tos"], json!(["ada@example.com"]));
    assert_eq!(welcome["subject"], "Confirm your email address for Natter");
    let path = link_in(&app, &welcome, "/verify-email/");
    assert_eq!(
        email_of(&app, "ada").await,
        ("ada@example.com".into(), false)
    );
    let mut visitor = app.browser();
    visitor.refresh_csrf(&path).await;
    assert!(
        !email_of(&app, "ada").await.1,
        "opening it is not confirming"
    );
    let confirmed = visitor.post_form(&path, &[]).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert!(
        confirmed
            .text()
            .await
            .unwrap()
            .contains("ada@example.com is your address")
    );
    assert!(email_of(&app, "ada").await.1);
    assert_eq!(
        visitor.post_form(&path, &[]).await.status(),
        StatusCode::GONE,
        "once"
    );

    // A change needs the password, and happens only once the new address confirms it.
    ada.refresh_csrf("/settings/profile").await;
    for (email, password, says) in [
        (
            "ada@new.example",
            "wrong-password",
            "not your current password",
        ),
        ("not an address", "password123", "like name@example.com"),
        ("ADA@example.com", "password123", "your address already"),
    ] {
        let answer = ada
            .post_form(
                "/settings/email",
                &[("email", email), ("current_password", password)],
            )
            .await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{says}");
        assert!(answer.text().await.unwrap().contains(says), "{says}");
    }
    let asked = ada
        .post_form(
            "/settings/email",
            &[
                ("email", "ada@new.example"),
                ("current_password", "password123"),
            ],
        )
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let said = asked.text().await.unwrap();
    assert!(said.contains("We sent a link to ada@new.example"));
    let mail = sink.expect("the link to the new address").await;
    assert_eq!(mail["rcpt_tos"], json!(["ada@new.example"]));
    assert_eq!(email_of(&app, "ada").await.0, "ada@example.com", "not yet");
    let path = link_in(&app, &mail, "/verify-email/");
    let mut there = app.browser();
    there.refresh_csrf(&path).await;
    assert_eq!(there.post_form(&path, &[]).await.status(), StatusCode::OK);
    assert_eq!(
        email_of(&app, "ada").await,
        ("ada@new.example".into(), true)
    );
    assert!(password_works(&app, "ada@new.example", "password123").await);
    assert!(!password_works(&app, "ada@example.com", "password123").await);

    // Another account's address: the same answer, and no mail goes to it.
    let bob = app.signup("bob").await;
    sink.expect("bob's confirmation").await;
    ada.refresh_csrf("/settings/profile").await;
    let taken = ada
        .post_form(
            "/settings/email",
            &[
                ("email", "bob@example.com"),
                ("current_password", "password123"),
            ],
        )
        .await;
    assert_eq!(taken.status(), StatusCode::OK);
    assert!(
        taken
            .text()
            .await
            .unwrap()
            .contains("We sent a link to bob@example.com")
    );
    assert!(sink.drain(Duration::from_secs(2)).await.is_empty());
    assert_eq!(email_of(&app, "ada").await.0, "ada@new.example");
    drop(bob);
}
