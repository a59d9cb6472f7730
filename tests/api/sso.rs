//! Single sign-on over HTTP against an OpenID provider that can be told to misbehave
//! (`tests/python/fake_oidc.py`, signing with PyJWT): a good login makes or finds the account
//! by a verified email only, and every bad answer (a forged signature, another audience, the
//! wrong nonce, an expired or unsigned token, a wrong issuer, a replayed or forged callback) is
//! refused with a clear message and nobody logged in. The same flow through a real provider in
//! a real browser is in `browser.rs`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{self, Browser, TestApp, location};
use crate::notifications::free_port;

/// The fake provider, killed when dropped.
struct FakeProvider {
    child: std::process::Child,
    base: String,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FakeProvider {
    async fn start() -> Option<FakeProvider> {
        // The test's own HTTP client needs the crypto provider the server installs.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let Some(python) = helpers::python_with("import jwt, cryptography") else {
            helpers::skipped("a Python with PyJWT", ".ci/run installs it in .venv");
            return None;
        };
        let port = free_port();
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/fake_oidc.py");
        let child = std::process::Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .spawn()
            .expect("the fake provider starts");
        let provider = FakeProvider {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if reqwest::get(format!(
                "{}/.well-known/openid-configuration",
                provider.base
            ))
            .await
            .is_ok()
            {
                return Some(provider);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the fake provider did not start");
    }

    /// Sets the fault and the claims of the next logins.
    async fn next_login(&self, fault: &str, claims: Value) {
        let answer = reqwest::Client::new()
            .post(format!("{}/_control", self.base))
            .json(&json!({ "fault": fault, "claims": claims }))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
}

async fn spawn(provider: &FakeProvider) -> TestApp {
    let issuer = provider.base.clone();
    TestApp::spawn_configured_with(move |config| {
        config.oidc = Some(natter::config::OidcConfig {
            issuer,
            client_id: "natter-test".into(),
            client_secret: "s3cret".into(),
        });
    })
    .await
}

/// "Continue with SSO" in `browser`, through the provider and back: the callback's URL and
/// Natter's answer to it.
async fn sso(browser: &Browser) -> (String, reqwest::Response) {
    let start = browser.get("/auth/oidc/login?next=/settings/profile").await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize = location(&start);
    assert!(
        authorize.contains("code_challenge_method=S256") && authorize.contains("nonce="),
        "PKCE and a nonce: {authorize}"
    );
    let approved = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&authorize)
        .send()
        .await
        .unwrap();
    let callback = location(&approved);
    let answer = browser.client.get(&callback).send().await.unwrap();
    (callback, answer)
}

async fn logged_in_as(browser: &Browser) -> Option<String> {
    let answer = browser.get("/settings/profile").await;
    if answer.status() != StatusCode::OK {
        return None;
    }
    let page = answer.text().await.unwrap();
    helpers::between(&page, "How others see you in every workspace, @", ".").map(str::to_owned)
}

async fn users(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn single_sign_on_finds_or_makes_the_account_by_a_verified_email_only() {
    let Some(provider) = FakeProvider::start().await else {
        return;
    };
    let app = spawn(&provider).await;
    let (_, login) = app.browser().page("/login").await;
    assert!(login.contains("Continue with SSO"));
    app.signup("ada").await;

    // Ada's address, but not verified by the provider: not matched, nothing made.
    provider
        .next_login(
            "none",
            json!({ "sub": "id-1", "email": "ada@example.com", "email_verified": false }),
        )
        .await;
    let browser = app.browser();
    let (_, answer) = sso(&browser).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("has not confirmed your email")
    );
    assert_eq!(logged_in_as(&browser).await, None);

    // Verified: Ada's account, and on to where the login was going.
    provider
        .next_login(
            "none",
            json!({ "sub": "id-1", "email": "ADA@example.com", "email_verified": true }),
        )
        .await;
    let (callback, answer) = sso(&browser).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "/settings/profile");
    assert_eq!(logged_in_as(&browser).await.as_deref(), Some("ada"));
    // The same callback again, in another browser: used up.
    let thief = app.browser();
    let replayed = thief.client.get(&callback).send().await.unwrap();
    assert_eq!(replayed.status(), StatusCode::FORBIDDEN);
    assert!(
        replayed
            .text()
            .await
            .unwrap()
            .contains("expired or was used")
    );
    assert_eq!(logged_in_as(&thief).await, None);

    // Once linked, the subject is Ada's whatever email the provider has for it now.
    provider
        .next_login(
            "none",
            json!({ "sub": "id-1", "email": "ada@elsewhere.example", "email_verified": false }),
        )
        .await;
    let again = app.browser();
    sso(&again).await;
    assert_eq!(logged_in_as(&again).await.as_deref(), Some("ada"));

    // Someone new with a verified email: an account without a password, named as the
    // provider says.
    let before = users(&app).await;
    provider
        .next_login(
            "none",
            json!({ "sub": "id-2", "email": "grace@example.com", "email_verified": true,
                    "name": "Grace Hopper", "preferred_username": "grace" }),
        )
        .await;
    let grace = app.browser();
    sso(&grace).await;
    assert_eq!(logged_in_as(&grace).await.as_deref(), Some("grace"));
    assert_eq!(users(&app).await, before + 1);
    let hash: String =
        sqlx::query_scalar("select password_hash from users where username = 'grace'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(hash, "!", "no password until she sets one");
}

#[tokio::test]
async fn a_forged_wrong_or_stale_id_token_logs_no_one_in() {
    let Some(provider) = FakeProvider::start().await else {
        return;
    };
    let app = spawn(&provider).await;
    app.signup("ada").await;
    let claims = json!({ "sub": "id-1", "email": "ada@example.com", "email_verified": true });
    for fault in [
        "bad_sig",
        "unknown_kid",
        "wrong_aud",
        "extra_aud",
        "wrong_iss",
        "expired",
        "wrong_nonce",
        "missing_nonce",
        "alg_none",
        "hs256",
        "no_id_token",
        "token_error",
    ] {
        provider.next_login(fault, claims.clone()).await;
        let browser = app.browser();
        let (_, answer) = sso(&browser).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{fault}");
        let page = answer.text().await.unwrap();
        assert!(page.contains("could not be verified"), "{fault}: {page}");
        assert_eq!(logged_in_as(&browser).await, None, "{fault}");
    }
    let linked: i64 = sqlx::query_scalar("select count(*) from user_identities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(linked, 0, "nothing was linked");

    // A callback whose state this browser never sent, and one the provider refused.
    provider.next_login("none", claims.clone()).await;
    let browser = app.browser();
    let start = browser.get("/auth/oidc/login").await;
    let authorize = location(&start);
    let forged = format!(
        "/auth/oidc/callback?code=whatever&state=not-{}",
        helpers::between(&authorize, "state=", "&").unwrap()
    );
    let answer = browser.get(&forged).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(answer.text().await.unwrap().contains("did not start here"));
    browser.get("/auth/oidc/login").await;
    let state = {
        let start = browser.get("/auth/oidc/login").await;
        helpers::between(&location(&start), "state=", "&")
            .unwrap()
            .to_owned()
    };
    let denied = browser
        .get(&format!(
            "/auth/oidc/callback?error=access_denied&state={state}"
        ))
        .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert!(
        denied
            .text()
            .await
            .unwrap()
            .contains("did not sign you in (access_denied)")
    );

    // And after all that, a good token still works.
    let (_, answer) = sso(&browser).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(logged_in_as(&browser).await.as_deref(), Some("ada"));
}

#[tokio::test]
async fn without_single_sign_on_configured_there_is_no_button_and_no_door() {
    let app = TestApp::spawn().await;
    let (_, login) = app.browser().page("/login").await;
    assert!(!login.contains("Continue with SSO"));
    assert_eq!(
        app.browser().get("/auth/oidc/login").await.status(),
        StatusCode::NOT_FOUND
    );
}
