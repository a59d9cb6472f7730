//! Two-factor authentication: set up by scanning (or typing) a secret and confirming a code,
//! with ten recovery codes shown once; logging in asks for "Code" after the password; a code
//! works once, a recovery code once; codes are throttled; turning it off needs the password;
//! a workspace can require it. Codes are computed independently, by `pyotp`.

use reqwest::StatusCode;

use crate::helpers::{self, Browser, TestApp, location};

/// The code `pyotp` computes for `secret` at `at` (unix seconds).
fn pyotp(python: &std::path::Path, secret: &str, at: i64) -> String {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import pyotp, sys; print(pyotp.TOTP(sys.argv[1]).at(int(sys.argv[2])))",
            secret,
            &at.to_string(),
        ])
        .output()
        .expect("pyotp runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Turns two-factor on for the browser's person; the secret and the recovery codes.
async fn turn_on(who: &Browser, python: &std::path::Path) -> (String, Vec<String>) {
    assert_eq!(
        who.post_form("/settings/security/setup", &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let (_, page) = who.page("/settings/security").await;
    assert!(page.contains("src=\"data:image/png;base64,"), "the QR code");
    let secret = helpers::between(&page, "data-secret=\"", "\"")
        .expect("the key as text")
        .to_owned();
    let answer = who
        .post_form(
            "/settings/security/confirm",
            &[("code", &pyotp(python, &secret, now()))],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let page = answer.text().await.unwrap();
    let codes: Vec<String> = page
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// Logs in with the password; the browser, waiting at the code step.
async fn password_step(app: &TestApp, email: &str) -> Browser {
    let mut browser = app.browser();
    browser.refresh_csrf("/login").await;
    let answer = browser
        .post_form(
            "/login",
            &[
                ("email", email),
                ("password", "password123"),
                ("next", "/settings/profile"),
            ],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "/login/code", "the code is asked for");
    browser.refresh_csrf("/login/code").await;
    browser
}

async fn logged_in(browser: &Browser) -> bool {
    browser.get("/settings/sessions").await.status() == StatusCode::OK
}

#[tokio::test]
async fn codes_from_an_app_and_recovery_codes_each_log_in_once() {
    let Some(python) = helpers::python_with("import pyotp") else {
        helpers::skipped("a Python with pyotp", ".ci/run installs it in .venv");
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (_, off) = ada.page("/settings/security").await;
    assert!(off.contains("Two-factor authentication is off"));

    // A wrong code does not turn it on.
    ada.post_form("/settings/security/setup", &[]).await;
    let (_, page) = ada.page("/settings/security").await;
    let secret = helpers::between(&page, "data-secret=\"", "\"")
        .unwrap()
        .to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let right = pyotp(&python, &secret, now());
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    let answer = ada
        .post_form("/settings/security/confirm", &[("code", wrong)])
        .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("That code is not right")
    );
    let (secret, codes) = turn_on(&ada, &python).await;
    assert_eq!(codes.len(), 10, "ten recovery codes");
    assert!(codes.iter().all(|c| c.len() == 11), "{codes:?}");
    let (_, on) = ada.page("/settings/security").await;
    assert!(on.contains("Two-factor authentication is on") && !on.contains(&codes[0]));

    // The password alone does not log in.
    let waiting = password_step(&app, "ada@example.com").await;
    assert!(!logged_in(&waiting).await);
    for (code, why) in [
        (wrong.to_owned(), "a wrong code"),
        (
            pyotp(&python, &secret, now()),
            "the code that turned it on, again",
        ),
        ("abcde-fghjk".to_owned(), "a made-up recovery code"),
    ] {
        let answer = waiting.post_form("/login/code", &[("code", &code)]).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        assert!(answer.text().await.unwrap().contains("not right"), "{why}");
        assert!(!logged_in(&waiting).await, "{why}");
    }
    // The next step's code (the app a little ahead): in, and where the login was going.
    let next = pyotp(&python, &secret, now() + 30);
    let answer = waiting.post_form("/login/code", &[("code", &next)]).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "/settings/profile");
    assert!(logged_in(&waiting).await);

    // That code again, in another browser: refused. A recovery code works once.
    let other = password_step(&app, "ada@example.com").await;
    let answer = other.post_form("/login/code", &[("code", &next)]).await;
    assert_eq!(
        answer.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "replayed"
    );
    let spaced = format!(" {} ", codes[3].to_uppercase());
    let answer = other.post_form("/login/code", &[("code", &spaced)]).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "a recovery code");
    let third = password_step(&app, "ada@example.com").await;
    let answer = third.post_form("/login/code", &[("code", &codes[3])]).await;
    assert_eq!(
        answer.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "used once"
    );
    let (_, page) = ada.page("/settings/security").await;
    assert!(page.contains("9 recovery codes left"), "{page}");

    // Guessing is throttled like passwords: after five wrong codes (the reused recovery code
    // above was the first), even a right one waits.
    let guesser = password_step(&app, "ada@example.com").await;
    for guess in ["000001", "000002", "000003", "000004"] {
        let status = guesser
            .post_form("/login/code", &[("code", guess)])
            .await
            .status();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let answer = guesser
        .post_form("/login/code", &[("code", &codes[5])])
        .await;
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(answer.headers().contains_key("retry-after"));
    assert!(!logged_in(&guesser).await);

    // New recovery codes and turning it off need the password.
    let answer = ada
        .post_form(
            "/settings/security/disable",
            &[("password", "not-my-password")],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("not your current password")
    );
    let answer = ada
        .post_form(
            "/settings/security/recovery-codes",
            &[("password", "password123")],
        )
        .await;
    let page = answer.text().await.unwrap();
    assert!(!page.contains(&codes[0]) && page.matches("<li><code>").count() == 10);
    let answer = ada
        .post_form("/settings/security/disable", &[("password", "password123")])
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let mut plain = app.browser();
    plain.refresh_csrf("/login").await;
    let answer = plain
        .post_form(
            "/login",
            &[("email", "ada@example.com"), ("password", "password123")],
        )
        .await;
    assert_eq!(location(&answer), "/", "no code asked once it is off");
}

#[tokio::test]
async fn a_workspace_that_requires_two_factor_sends_members_without_it_to_set_it_up() {
    let Some(python) = helpers::python_with("import pyotp") else {
        helpers::skipped("a Python with pyotp", ".ci/run installs it in .venv");
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let require = [
        ("name", "Acme"),
        ("channel_creators", "members"),
        ("link_previews", "1"),
        ("notification_text", "1"),
        ("require_two_factor", "1"),
    ];
    // Not by an admin who would lock themselves out.
    let answer = ada
        .post_form(&format!("/w/{slug}/admin/settings"), &require)
        .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("your own account first")
    );
    assert_eq!(
        bob.get(&format!("/w/{slug}/members")).await.status(),
        StatusCode::OK
    );

    turn_on(&ada, &python).await;
    let answer = ada
        .post_form(&format!("/w/{slug}/admin/settings"), &require)
        .await;
    assert!(answer.status().is_success() || answer.status().is_redirection());
    assert_eq!(
        ada.get(&format!("/w/{slug}/members")).await.status(),
        StatusCode::OK
    );
    let sent = bob.get(&format!("/w/{slug}/members")).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&sent), "/settings/security?required=1");
    let (_, page) = bob.page("/settings/security?required=1").await;
    assert!(page.contains("requires two-factor") && page.contains("Required by Acme"));
    // Once he has it, he is back in.
    turn_on(&bob, &python).await;
    assert_eq!(
        bob.get(&format!("/w/{slug}/members")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_throttled_password_check_turns_nothing_off() {
    let Some(python) = helpers::python_with("import pyotp") else {
        helpers::skipped("a Python with pyotp", ".ci/run installs it in .venv");
        return;
    };
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    turn_on(&ada, &python).await;
    // Someone with Ada's session guesses her password: five wrong, then even the right one
    // waits, and two-factor stays on.
    for _ in 0..5 {
        let answer = ada
            .post_form("/settings/security/disable", &[("password", "guess-guess")])
            .await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let answer = ada
        .post_form("/settings/security/disable", &[("password", "password123")])
        .await;
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    let on: bool =
        sqlx::query_scalar("select exists (select 1 from user_totp where enabled_at is not null)")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(on, "still on");
}
