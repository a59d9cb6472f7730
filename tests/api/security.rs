use reqwest::StatusCode;

use crate::helpers::{TestApp, location, user_id};

#[tokio::test]
async fn a_form_without_the_csrf_token_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let response = ada
        .client
        .post(format!("{}/w/{slug}/c/{general}/messages", app.base))
        .form(&[("text", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = ada
        .client
        .post(format!("{}/w/{slug}/c/{general}/messages", app.base))
        .form(&[("text", "forged"), ("csrf_token", "0000")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("reload the page"));
    let count: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_non_member_gets_404_for_a_private_channel_page_history_and_post() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let eve = app.signup("eve").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &eve, &slug).await;
    let secret = ada.create_channel(&slug, "secret", true).await;
    ada.send(&slug, secret, "the launch date is friday", None)
        .await;

    let base = format!("/w/{slug}/c/{secret}");
    for path in [
        base.clone(),
        format!("{base}/messages"),
        format!("{base}/details"),
        format!("{base}/messages/1/edit"),
    ] {
        let (status, html) = eve.page(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!html.contains("launch date"));
    }
    let (status, _) = eve.try_send(&slug, secret, "let me in", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for action in [
        "join",
        "leave",
        "topic",
        "members",
        "read",
        "messages/1/delete",
    ] {
        let response = eve
            .post_form(
                &format!("{base}/{action}"),
                &[("topic", "x"), ("username", "eve"), ("seq", "1")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
    }
    // Nor does it show in the channel browser or the sidebar.
    let (_, html) = eve.page(&format!("/w/{slug}/channels")).await;
    assert!(!html.contains("secret"));
    let members: i64 =
        sqlx::query_scalar("select count(*) from channel_members where channel_id = $1")
            .bind(secret)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(members, 1, "eve was not added by any door");
}

#[tokio::test]
async fn a_non_member_of_a_workspace_gets_404_for_all_of_it() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let mallory = app.signup("mallory").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    ada.send(&slug, general, "internal news", None).await;
    for path in [
        format!("/w/{slug}"),
        format!("/w/{slug}/c/{general}"),
        format!("/w/{slug}/c/{general}/messages"),
        format!("/w/{slug}/members"),
        format!("/w/{slug}/channels"),
        format!("/w/{slug}/invites"),
    ] {
        let (status, html) = mallory.page(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!html.contains("internal news"));
    }
    let (status, _) = mallory.try_send(&slug, general, "hi", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let ada_id = user_id(&app, "ada").await.to_string();
    let response = mallory
        .post_form(&format!("/w/{slug}/dms"), &[("user_id", &ada_id)])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn scripts_javascript_links_handlers_and_raw_html_in_messages_are_inert() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let evil = "<script>alert('x')</script>\n\n[click](javascript:alert(1)) <img src=x onerror=alert(2)> \
                <a href=\"javascript:alert(3)\" onclick=\"alert(4)\">raw</a> <iframe src=\"https://evil.example\"></iframe>";
    ada.send(&slug, general, evil, None).await;
    let (_, html) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    let body = &html[html.find("id=\"m-1\"").unwrap()..];
    let body = &body[..body.find("</article>").unwrap()];
    let tags = tags_in(body);
    assert!(
        tags.iter().all(|t| !t.starts_with("<script")
            && !t.starts_with("<img")
            && !t.starts_with("<iframe")),
        "{tags:?}"
    );
    assert!(
        tags.iter().all(|t| !t.contains(" on")),
        "no event handler attribute: {tags:?}"
    );
    assert!(
        tags.iter().all(|t| !t.contains("javascript:")),
        "no javascript: URL: {tags:?}"
    );
    assert!(
        body.contains("&lt;script&gt;"),
        "the raw HTML shows as text: {body}"
    );
}

#[tokio::test]
async fn pages_carry_a_content_security_policy_and_unknown_pages_get_a_404_page() {
    let app = TestApp::spawn().await;
    let response = app.browser().get("/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let csp = response
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"));
    assert!(
        csp.contains("img-src 'self' data:;"),
        "images only from Natter: {csp}"
    );
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Not found") && html.contains("/static/app.css"),
        "a 404 in the product's look"
    );
}

#[tokio::test]
async fn pages_that_need_a_login_redirect_to_it() {
    let app = TestApp::spawn().await;
    let response = app.browser().get("/w/anything").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

/// Every real tag in an HTML fragment (escaped text like `&lt;img&gt;` is not a tag).
fn tags_in(html: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .map_or(rest.len(), |e| start + e + 1);
        tags.push(rest[start..end].to_lowercase());
        rest = &rest[end..];
    }
    tags
}

#[tokio::test]
async fn a_private_channels_name_is_never_revealed_by_a_name_taken_answer() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let secret = ada.create_channel(&slug, "layoffs", true).await;
    ada.create_channel(&slug, "general-chat", false).await;
    bob.create_channel(&slug, "salaries", true).await;

    // Bob is not in #layoffs: as far as he can tell the name is free, public or private.
    let bobs_public = bob.create_channel(&slug, "layoffs", false).await;
    assert_ne!(bobs_public, secret);
    // Ada, an admin but not in Bob's private #salaries, may rename a channel to that name.
    let renamed = ada
        .post_form(
            &format!("/w/{slug}/c/{secret}/manage/rename"),
            &[("name", "salaries")],
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);

    // Names a person can see stay taken for them: Bob's own #salaries, Ada's #general-chat.
    for (who, name, private) in [
        (&bob, "salaries", true),
        (&bob, "general-chat", false),
        (&ada, "salaries", false),
    ] {
        let mut fields = vec![("name", name)];
        if private {
            fields.push(("private", "1"));
        }
        let again = who.post_form(&format!("/w/{slug}/channels"), &fields).await;
        assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(again.text().await.unwrap().contains("already exists"));
    }
    // Public names are unique for everyone, in the schema too.
    let public: i64 = sqlx::query_scalar(
        "select count(*) from channels where name = 'layoffs' and kind = 'public'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(public, 1);
}

#[tokio::test]
async fn sign_up_with_a_registered_email_does_not_say_that_it_is_registered() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let mut stranger = app.browser();
    stranger.refresh_csrf("/signup").await;
    let response = stranger
        .post_form(
            "/signup",
            &[
                ("email", "ADA@example.com"),
                ("username", "someone-new"),
                ("name", "Someone"),
                ("password", "password123"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    for telling in ["already exists", "already registered", "is taken", "in use"] {
        assert!(!page.contains(telling), "the answer says {telling:?}");
    }
    let accounts: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(accounts, 1);
}

#[tokio::test]
async fn anonymous_page_views_store_no_session_and_their_forms_still_work() {
    let app = TestApp::spawn().await;
    let invite = {
        let ada = app.signup("ada").await;
        let (slug, _) = app.workspace(&ada, "Acme").await;
        ada.invite_link(&slug).await
    };
    let sessions = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from tower_sessions.session")
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    let before = sessions().await;
    let cookieless = reqwest::Client::new();
    for _ in 0..20 {
        for path in ["/login", "/signup"] {
            let page = cookieless
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), StatusCode::OK);
        }
        let landing = cookieless.get(&invite).send().await.unwrap();
        assert_eq!(landing.status(), StatusCode::OK);
    }
    assert_eq!(sessions().await, before, "page views stored sessions");

    // The visitor's token is in a cookie of its own; the form posts it back and logs in.
    let bob = app.signup("bob").await; // through /signup's form, as a browser would
    drop(bob);
    let mut carol = app.browser();
    carol.refresh_csrf("/login").await;
    let refused = carol
        .client_post_form_with_header(
            "/login",
            &[("email", "bob@example.com"), ("password", "password123")],
            ("x-csrf-token", "not-the-token"),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let logged_in = carol
        .post_form(
            "/login",
            &[("email", "bob@example.com"), ("password", "password123")],
        )
        .await;
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    // A form without the token, or with a cookie but no matching field, is refused.
    let forged = reqwest::Client::new()
        .post(format!("{}/login", app.base))
        .header("cookie", format!("natter_visitor={}", "a".repeat(43)))
        .form(&[("email", "bob@example.com"), ("password", "password123")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}
