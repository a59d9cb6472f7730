use reqwest::StatusCode;

use crate::helpers::{TestApp, location};

#[tokio::test]
async fn a_user_can_belong_to_several_workspaces_and_switch_between_them() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (acme, acme_general) = app.workspace(&ada, "Acme Corp").await;
    let (globex, _) = app.workspace(&ada, "Globex").await;
    assert_eq!(acme, "acme-corp");
    let (_, home) = ada.page("/").await;
    assert!(home.contains("href=\"/w/acme-corp\"") && home.contains("href=\"/w/globex\""));
    let (_, page) = ada.page(&format!("/w/{acme}/c/{acme_general}")).await;
    assert!(
        page.contains("aria-label=\"Workspaces\""),
        "the switcher is on every workspace page"
    );
    assert!(page.contains(&format!("href=\"/w/{globex}\"")));
    assert!(
        page.contains("aria-label=\"Channels and direct messages\""),
        "the sidebar is a navigation landmark"
    );
}

#[tokio::test]
async fn a_taken_workspace_url_is_explained() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    app.workspace(&ada, "Acme").await;
    let response = ada.post_form("/workspaces", &[("name", "Acme")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("The URL /w/acme is taken"));
    assert!(html.contains("value=\"Acme\""));
}

#[tokio::test]
async fn invite_links_are_stored_hashed_and_run_out() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let response = ada
        .post_form(
            &format!("/w/{slug}/invites"),
            &[("expires_in_days", "1"), ("max_uses", "1")],
        )
        .await;
    let html = response.text().await.unwrap();
    let link = crate::helpers::between(&html, "readonly value=\"", "\"")
        .unwrap()
        .to_owned();
    let code = link.rsplit('/').next().unwrap().to_owned();
    let stored: Vec<String> = sqlx::query_scalar("select token_hash from invites")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(!stored.contains(&code), "the code itself is not stored");

    // Someone not logged in sees where the link leads and how to join.
    let (status, landing) = app.browser().page(&format!("/invite/{code}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        landing.contains("Join Acme") && landing.contains(&format!("/signup?next=/invite/{code}"))
    );

    let bob = app.signup("bob").await;
    let response = bob.post_form(&format!("/invite/{code}"), &[]).await;
    assert_eq!(location(&response), format!("/w/{slug}"));
    let (status, _) = bob.page(&format!("/w/{slug}/c/{general}")).await;
    assert_eq!(status, StatusCode::OK, "joining puts you in #general");

    let cat = app.signup("cat").await;
    let response = cat.post_form(&format!("/invite/{code}"), &[]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("expired or has been used up")
    );
    sqlx::query("update invites set expires_at = now() - interval '1 minute', uses = 0")
        .execute(&app.db)
        .await
        .unwrap();
    let response = cat.post_form(&format!("/invite/{code}"), &[]).await;
    assert_eq!(
        response.status(),
        StatusCode::CONFLICT,
        "an expired link is refused"
    );
}

#[tokio::test]
async fn the_command_line_bootstraps_users_workspaces_members_and_channels() {
    let app = TestApp::spawn().await;
    let database_url: String = {
        let name: String = sqlx::query_scalar("select current_database()")
            .fetch_one(&app.db)
            .await
            .unwrap();
        let admin = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        format!("{admin}/{name}")
    };
    let natter = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
            .args(args)
            .env("DATABASE_URL", &database_url)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (ok, out) = natter(&[
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--username",
        "ada",
        "--name",
        "Ada L",
        "--password",
        "password123",
    ]);
    assert!(ok, "{out}");
    natter(&[
        "user",
        "create",
        "--email",
        "bob@example.com",
        "--username",
        "bob",
        "--name",
        "Bob",
        "--password",
        "password123",
    ]);
    let (ok, out) = natter(&[
        "workspace",
        "create",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--owner",
        "ada@example.com",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = natter(&[
        "member",
        "add",
        "--workspace",
        "acme",
        "--email",
        "bob@example.com",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = natter(&[
        "channel",
        "create",
        "--workspace",
        "acme",
        "--name",
        "ops",
        "--private",
        "--members",
        "ada@example.com,bob@example.com",
    ]);
    assert!(ok, "{out}");
    let members: i64 = sqlx::query_scalar(
        "select count(*) from channel_members cm join channels c on c.id = cm.channel_id where c.name = 'ops' and c.kind = 'private'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(members, 2);

    // Bad input: one clear line and a non-zero exit, never a panic.
    for (args, expected) in [
        (
            vec![
                "user",
                "create",
                "--email",
                "nope",
                "--username",
                "x",
                "--name",
                "X",
                "--password",
                "password123",
            ],
            "Enter an email address",
        ),
        (
            vec![
                "user",
                "create",
                "--email",
                "ada@example.com",
                "--username",
                "ada2",
                "--name",
                "X",
                "--password",
                "password123",
            ],
            "already exists",
        ),
        (
            vec![
                "workspace",
                "create",
                "--slug",
                "acme",
                "--name",
                "Acme",
                "--owner",
                "ada@example.com",
            ],
            "is taken",
        ),
        (
            vec![
                "member",
                "add",
                "--workspace",
                "nowhere",
                "--email",
                "bob@example.com",
            ],
            "no workspace has the slug",
        ),
        (
            vec![
                "member",
                "add",
                "--workspace",
                "acme",
                "--email",
                "bob@example.com",
                "--role",
                "king",
            ],
            "is not a role",
        ),
        (
            vec![
                "channel",
                "create",
                "--workspace",
                "acme",
                "--name",
                "ops",
                "--members",
                "ada@example.com",
            ],
            "already exists",
        ),
    ] {
        let (ok, out) = natter(&args);
        assert!(!ok, "{args:?} fails");
        assert!(out.contains(expected), "{args:?}: {out}");
        assert!(!out.contains("panicked"), "{out}");
    }
}

#[tokio::test]
async fn an_unreachable_postgres_is_reported_in_one_clear_line() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .arg("migrate")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/natter")
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach Postgres at postgres://postgres@127.0.0.1:1/natter"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
