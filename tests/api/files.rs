//! Files against a real server, Postgres and storage (a directory, and an S3-compatible server
//! the test starts): uploading from the composer and Slack's flow, who may read a file, the
//! headers that keep a file from running as a page, bad uploads that store nothing, deleting,
//! and garbage collection.

use std::io::Cursor;
use std::path::PathBuf;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use serde_json::json;

use crate::helpers::{self, Browser, TestApp, api};
use crate::ws::token;

/// A PNG of `w` × `h` pixels.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let image = image::DynamicImage::new_rgb8(w, h);
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

/// Uploads as the composer's script does (one file per request); the status and JSON answer.
async fn upload(
    who: &Browser,
    slug: &str,
    name: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> (StatusCode, serde_json::Value) {
    let response = who
        .client
        .post(format!(
            "{}/w/{slug}/files?name={}",
            who.base,
            form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
        ))
        .header("x-csrf-token", &who.csrf)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(CONTENT_TYPE, content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

/// Uploads and shares in a message; the file's id.
pub async fn share(who: &Browser, slug: &str, channel: i64, name: &str, bytes: Vec<u8>) -> String {
    let (status, answer) = upload(who, slug, name, bytes, "application/octet-stream").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = answer["file"]["id"].as_str().unwrap().to_owned();
    let response = who
        .post_form(
            &format!("/w/{slug}/c/{channel}/messages"),
            &[("text", "here you go"), ("files", &id)],
        )
        .await;
    assert!(response.status().is_redirection(), "{}", response.status());
    id
}

/// PNG's chunk checksum (CRC-32, as in zlib), so the bomb's header is well formed.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn file_count(dir: &std::path::Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[tokio::test]
async fn a_shared_image_is_served_with_its_thumbnail_to_readers_and_404_to_everyone_else() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let secret = ada.create_channel(&slug, "secret", true).await;
    let original = png(1200, 600);
    let id = share(&ada, &slug, secret, "cat picture.png", original.clone()).await;

    // Ada reads it: the bytes she sent, shown in place, with the sandbox on.
    let response = ada.get(&format!("/files/{id}/cat%20picture.png")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "image/png");
    assert!(
        headers[CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert_eq!(response.bytes().await.unwrap().to_vec(), original);
    // The thumbnail is the server's, 360 px wide, the same shape.
    let thumb = ada.get(&format!("/files/{id}/thumb")).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (360, 180));
    // The conversation shows the thumbnail.
    let (_, page) = ada.page(&format!("/w/{slug}/c/{secret}")).await;
    assert!(
        page.contains(&format!("src=\"/files/{id}/thumb\"")),
        "{page}"
    );

    // Bob is in the workspace but not the private channel: the file does not exist for him,
    // by cookie or by token, nor in the Web API.
    for path in [format!("/files/{id}/cat.png"), format!("/files/{id}/thumb")] {
        assert_eq!(
            bob.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let bob_token = token(&app, "bob").await;
    let by_token = reqwest::Client::new()
        .get(format!("{}/files/{id}/x", app.base))
        .bearer_auth(&bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_token.status(), StatusCode::NOT_FOUND);
    let (_, info) = api(&app, &bob_token, "files.info", json!({ "file": id })).await;
    assert_eq!(info["error"], "file_not_found");
    // Nobody logged in gets the same.
    let anonymous = reqwest::get(format!("{}/files/{id}/x", app.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);

    // Ada's token reads it through the Web API's url_private.
    let ada_token = token(&app, "ada").await;
    let (_, info) = api(&app, &ada_token, "files.info", json!({ "file": id })).await;
    assert_eq!(info["ok"], true, "{info}");
    assert_eq!(info["file"]["mimetype"], "image/png");
    assert_eq!(info["file"]["original_w"], 1200);
    assert_eq!(info["file"]["groups"], json!([format!("G{secret}")]));
    let private = reqwest::Client::new()
        .get(info["file"]["url_private"].as_str().unwrap())
        .bearer_auth(&ada_token)
        .send()
        .await
        .unwrap();
    assert_eq!(private.bytes().await.unwrap().to_vec(), original);

    // Search finds it by has:file and by its name, for Ada only (in Meilisearch too, once the
    // index has taken the message).
    app.search_settled().await;
    let (_, found) = api(
        &app,
        &ada_token,
        "search.messages",
        json!({ "query": "has:file" }),
    )
    .await;
    assert_eq!(found["messages"]["total"], 1, "{found}");
    let (_, found) = api(
        &app,
        &ada_token,
        "search.messages",
        json!({ "query": "picture" }),
    )
    .await;
    assert_eq!(found["messages"]["total"], 1, "{found}");
    let (_, found) = api(
        &app,
        &bob_token,
        "search.messages",
        json!({ "query": "picture" }),
    )
    .await;
    assert_eq!(found["messages"]["total"], 0, "{found}");

    // Once Bob joins #general and Ada shares a file there, he reads it, may not delete it,
    // and Ada deleting it takes it from everyone at once.
    let notes = share(&ada, &slug, general, "notes.txt", b"minutes\n".to_vec()).await;
    assert_eq!(
        bob.get(&format!("/files/{notes}/notes.txt")).await.status(),
        StatusCode::OK
    );
    let (_, refused) = api(&app, &bob_token, "files.delete", json!({ "file": notes })).await;
    assert_eq!(refused["error"], "cant_delete_file");
    let (_, history) = api(
        &app,
        &bob_token,
        "conversations.history",
        json!({ "channel": format!("C{general}") }),
    )
    .await;
    assert_eq!(
        history["messages"][0]["files"][0]["id"],
        notes.as_str(),
        "{history}"
    );
    let deleted = ada.post_form(&format!("/files/{notes}/delete"), &[]).await;
    assert!(deleted.status().is_redirection());
    assert_eq!(
        bob.get(&format!("/files/{notes}/notes.txt")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ada.get(&format!("/files/{notes}/notes.txt")).await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, history) = api(
        &app,
        &bob_token,
        "conversations.history",
        json!({ "channel": format!("C{general}") }),
    )
    .await;
    assert!(history["messages"][0].get("files").is_none(), "{history}");

    // Garbage collection removes its bytes once the grace period is over; the image stays.
    let dir = helpers::files_dir(&app.db_name);
    let before = file_count(&dir);
    let collected = natter::files::gc::collect(&app.state, time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(collected.rows, 1);
    assert_eq!(file_count(&dir), before - 1);
    assert_eq!(
        ada.get(&format!("/files/{id}/cat.png")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn files_a_browser_could_run_are_only_ever_downloaded() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let html = b"<!doctype html><html><script>alert(document.cookie)</script></html>".to_vec();
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("page.html", html.clone(), "text/html"),
        ("cat.png", html.clone(), "image/png"),
        ("drawing.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(), "image/svg+xml"),
        ("feed.xml", b"<?xml version=\"1.0\"?><a xmlns:html=\"http://www.w3.org/1999/xhtml\"><html:script>alert(1)</html:script></a>".to_vec(), "application/xml"),
        ("app.js", b"alert(1)".to_vec(), "image/png"),
        ("blob.bin", vec![0, 159, 146, 150, 1, 2, 3], "text/html"),
    ];
    for (name, bytes, lying_type) in cases {
        let (status, answer) = upload(&ada, &slug, name, bytes, lying_type).await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
        let id = answer["file"]["id"].as_str().unwrap().to_owned();
        let sent = ada
            .post_form(
                &format!("/w/{slug}/c/{general}/messages"),
                &[("text", ""), ("files", &id)],
            )
            .await;
        assert!(sent.status().is_redirection(), "{name}");
        let response = ada.get(&format!("/files/{id}/{name}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let h = response.headers();
        let disposition = h[CONTENT_DISPOSITION].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment"),
            "{name}: {disposition}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{name}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("sandbox"),
            "{name}"
        );
        let served = h[CONTENT_TYPE].to_str().unwrap();
        assert!(
            !served.contains("html")
                && !served.contains("svg")
                && !served.contains("xml")
                && !served.contains("javascript")
                && !served.starts_with("image/"),
            "{name} served as {served}"
        );
        // The page shows it as a card to download, never as an image or frame.
        let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
        assert!(!page.contains(&format!("src=\"/files/{id}")), "{name}");
    }
}

#[tokio::test]
async fn bad_uploads_say_why_and_store_nothing() {
    let app = TestApp::spawn_configured_with(|config| config.files.max_upload_mb = 1).await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let ada_token = token(&app, "ada").await;

    let (status, answer) = upload(&ada, &slug, "empty.txt", Vec::new(), "text/plain").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer["error"].as_str().unwrap().contains("empty"),
        "{answer}"
    );
    let (status, answer) = upload(
        &ada,
        &slug,
        "big.bin",
        vec![7; 2 * 1024 * 1024],
        "application/octet-stream",
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer["error"].as_str().unwrap().contains("1 MB"),
        "{answer}"
    );
    for name in ["../../etc/passwd", "a\u{1}b.txt", &"n".repeat(4000)] {
        let (status, answer) = upload(&ada, &slug, name, b"x".to_vec(), "text/plain").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("file name"),
            "{answer}"
        );
    }
    // A few hundred bytes that claim 100,000 × 100,000 pixels.
    let mut bomb = png(1, 1);
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let (status, answer) = upload(&ada, &slug, "bomb.png", bomb, "image/png").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("too large"),
        "{answer}"
    );

    // Slack's flow: an upload URL works once, and not after it expires; completing a file
    // never sent is refused.
    let (_, got) = api(
        &app,
        &ada_token,
        "files.getUploadURLExternal",
        json!({ "filename": "a.txt", "length": 5 }),
    )
    .await;
    let url = got["upload_url"].as_str().unwrap().to_owned();
    let post = |body: &'static [u8]| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(post(b"hello").await, StatusCode::OK);
    assert_eq!(post(b"again").await, StatusCode::NOT_FOUND);
    let (_, late) = api(
        &app,
        &ada_token,
        "files.getUploadURLExternal",
        json!({ "filename": "b.txt", "length": 5 }),
    )
    .await;
    sqlx::query("update files set upload_expires_at = now() - interval '1 second' where id = $1")
        .bind(late["file_id"].as_str().unwrap())
        .execute(&app.db)
        .await
        .unwrap();
    let expired = reqwest::Client::new()
        .post(late["upload_url"].as_str().unwrap())
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::NOT_FOUND);
    let (_, never) = api(
        &app,
        &ada_token,
        "files.getUploadURLExternal",
        json!({ "filename": "c.txt", "length": 5 }),
    )
    .await;
    let (_, completed) = api(
        &app,
        &ada_token,
        "files.completeUploadExternal",
        json!({ "files": [{ "id": never["file_id"] }], "channel_id": format!("C{general}") }),
    )
    .await;
    assert_eq!(completed["error"], "file_not_found", "{completed}");
    let (_, zero) = api(
        &app,
        &ada_token,
        "files.getUploadURLExternal",
        json!({ "filename": "z.txt", "length": 0 }),
    )
    .await;
    assert_eq!(zero["ok"], false);

    // Only the one good upload is ready, and storage holds only its bytes; no message was
    // written with a file that is not there.
    let ready: i64 = sqlx::query_scalar("select count(*) from files where state = 'ready'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(ready, 1);
    assert_eq!(file_count(&helpers::files_dir(&app.db_name)), 1);
    let shared: i64 = sqlx::query_scalar("select count(*) from file_shares")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(shared, 0);
    // The pending rows of the expired and never-sent uploads go with garbage collection.
    sqlx::query("update files set created_at = now() - interval '2 hours' where state = 'pending'")
        .execute(&app.db)
        .await
        .unwrap();
    let collected = natter::files::gc::collect(&app.state, natter::files::gc::GRACE)
        .await
        .unwrap();
    assert_eq!(collected.rows, 2);
}

#[tokio::test]
async fn files_live_in_s3_compatible_storage_when_a_bucket_is_set() {
    let Some(python) = helpers::python_with("import moto.server") else {
        helpers::skipped(
            "a Python with moto[server]",
            ".ci/run makes .venv; or set NATTER_TEST_PYTHON",
        );
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut moto = tokio::process::Command::new(&python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    // The server first: it installs the TLS provider this test's HTTP client needs too.
    let app = TestApp::spawn_configured_with(|config| {
        config.files.s3_bucket = Some("natter-files".into());
        config.files.s3_endpoint = Some(endpoint.clone());
        config.files.s3_region = Some("us-east-1".into());
        config.files.s3_access_key_id = Some("test".into());
        config.files.s3_secret_access_key = Some("test".into());
    })
    .await;
    let http = reqwest::Client::new();
    let mut created = false;
    for _ in 0..100 {
        if let Ok(r) = http.put(format!("{endpoint}/natter-files")).send().await {
            created = r.status().is_success();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(created, "moto's server did not start or create the bucket");
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    // 12 MiB goes up in parts (S3 multipart); a small image in one piece, with its thumbnail.
    let big: Vec<u8> = (0..12 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let big_id = share(&ada, &slug, general, "dump.bin", big.clone()).await;
    let image_id = share(&ada, &slug, general, "dot.png", png(40, 20)).await;
    let read = ada.get(&format!("/files/{big_id}/dump.bin")).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert!(
        read.bytes().await.unwrap().to_vec() == big,
        "the bytes read back differ"
    );
    let ranged = ada
        .client
        .get(format!("{}/files/{big_id}/dump.bin", ada.base))
        .header("range", "bytes=1000-1009")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        ranged.bytes().await.unwrap().to_vec(),
        big[1000..1010].to_vec()
    );
    assert_eq!(
        ada.get(&format!("/files/{image_id}/thumb")).await.status(),
        StatusCode::OK
    );
    // The objects are in the bucket, under keys that say nothing about the files.
    let listing = http
        .get(format!("{endpoint}/natter-files"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(listing.matches("<Key>").count(), 3, "{listing}");
    assert!(
        !listing.contains("dump") && !listing.contains("dot"),
        "{listing}"
    );
    // Deleted and collected: gone from the bucket too.
    let token = token(&app, "ada").await;
    let (_, deleted) = api(&app, &token, "files.delete", json!({ "file": big_id })).await;
    assert_eq!(deleted["ok"], true, "{deleted}");
    natter::files::gc::collect(&app.state, time::Duration::ZERO)
        .await
        .unwrap();
    let listing = http
        .get(format!("{endpoint}/natter-files"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(listing.matches("<Key>").count(), 2, "{listing}");
    moto.kill().await.ok();
}

#[tokio::test]
async fn the_composer_form_without_a_script_uploads_and_shares_in_one_post() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    // The token first, as the form has it; then the text and two files.
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", ada.csrf.clone())
        .text("text", "the report and a picture")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"%PDF-1.7\n%%EOF\n".to_vec()).file_name("report.pdf"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(png(10, 10)).file_name("dot.png"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(Vec::new()).file_name(""),
        );
    let response = ada
        .client
        .post(format!("{}/w/{slug}/c/{general}/messages", ada.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(
        page.contains("report.pdf") && page.contains("PDF"),
        "the card is on the page"
    );
    assert!(
        page.contains("/thumb\""),
        "the picture's thumbnail is on the page"
    );
    // Without the token first, the form is refused and nothing is kept.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"),
        )
        .text("csrf_token", ada.csrf.clone());
    let refused = ada
        .client
        .post(format!("{}/w/{slug}/c/{general}/messages", ada.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // A text field larger than any form may hold is refused, not buffered.
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", ada.csrf.clone())
        .text("text", "x".repeat(2 * 1024 * 1024));
    let too_big = ada
        .client
        .post(format!("{}/w/{slug}/c/{general}/messages", ada.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let files: i64 = sqlx::query_scalar("select count(*) from files")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(files, 2);
}

/// A web site on localhost: a page with Open Graph tags, its image, and a page without any.
async fn spawn_site() -> String {
    use axum::routing::get;
    let image = png(120, 60);
    let site = axum::Router::new()
        .route(
            "/launch",
            get(|| async {
                axum::response::Html(
                    r#"<!doctype html><html><head><title>Fallback title</title>
                    <meta property="og:title" content="Natter 1.0 is out">
                    <meta property="og:description" content="Files, threads &amp; more.">
                    <meta property="og:image" content="/cover.png">
                    <meta property="og:site_name" content="Natter Blog">
                    </head><body>…</body></html>"#,
                )
            }),
        )
        .route(
            "/cover.png",
            get(move || {
                let image = image.clone();
                async move { ([(CONTENT_TYPE, "image/png")], image) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    base
}

/// The newest message of #general as the Web API gives it, once `ready` holds for it (or
/// after ten seconds).
async fn newest_when(
    app: &TestApp,
    token: &str,
    general: i64,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..100 {
        let (_, history) = api(
            app,
            token,
            "conversations.history",
            json!({ "channel": format!("C{general}"), "limit": 1 }),
        )
        .await;
        let newest = history["messages"][0].clone();
        if ready(&newest) {
            return newest;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the message never became what was waited for");
}

#[tokio::test]
async fn links_get_a_preview_card_that_the_author_can_remove_and_a_workspace_can_turn_off() {
    let site = spawn_site().await;
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let token = token(&app, "ada").await;
    let (_, sent) = api(
        &app,
        &token,
        "chat.postMessage",
        json!({ "channel": format!("C{general}"), "text": format!("Read this: {site}/launch") }),
    )
    .await;
    assert_eq!(sent["ok"], true, "{sent}");
    let newest = newest_when(&app, &token, general, |m| m.get("attachments").is_some()).await;
    let card = &newest["attachments"][0];
    assert_eq!(card["from_url"], format!("{site}/launch"));
    assert_eq!(card["title"], "Natter 1.0 is out");
    assert_eq!(card["text"], "Files, threads & more.");
    assert_eq!(card["service_name"], "Natter Blog");
    // The image is the server's copy, never the site's address.
    let image = card["image_url"].as_str().unwrap();
    assert!(image.contains("/icons/"), "{image}");
    let served = ada.get(&image[app.base.len()..]).await;
    assert_eq!(served.headers()[CONTENT_TYPE], "image/png");
    let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(
        page.contains("link-preview") && page.contains("Natter 1.0 is out"),
        "the card is on the page"
    );

    // Its author removes it.
    let seq = natter::integrations::ids::seq_of_ts(newest["ts"].as_str().unwrap()).unwrap();
    let removed = ada
        .post_form(
            &format!("/w/{slug}/c/{general}/messages/{seq}/previews"),
            &[],
        )
        .await;
    assert!(removed.status().is_redirection());
    newest_when(&app, &token, general, |m| m.get("attachments").is_none()).await;

    // `unfurl_links: false`, and a workspace with previews off, owe no preview at all.
    api(&app, &token, "chat.postMessage", json!({ "channel": format!("C{general}"), "text": format!("quiet {site}/launch"), "unfurl_links": false })).await;
    sqlx::query("update workspaces set link_previews = false")
        .execute(&app.db)
        .await
        .unwrap();
    api(
        &app,
        &token,
        "chat.postMessage",
        json!({ "channel": format!("C{general}"), "text": format!("off {site}/launch") }),
    )
    .await;
    let owed: i64 = sqlx::query_scalar("select count(*) from preview_outbox")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(owed, 0);
}

#[tokio::test]
async fn previews_never_reach_private_addresses_unless_allowed() {
    let site = spawn_site().await;
    let app = TestApp::spawn_configured_with(|config| config.outbound_allow_private = false).await;
    let ada = app.signup("ada").await;
    let (_, general) = app.workspace(&ada, "Acme").await;
    let token = token(&app, "ada").await;
    api(
        &app,
        &token,
        "chat.postMessage",
        json!({ "channel": format!("C{general}"), "text": format!("{site}/launch") }),
    )
    .await;
    // The worker tries, is refused, and keeps the refusal (no card) for the URL.
    let mut refused = false;
    for _ in 0..100 {
        let row: Option<Option<serde_json::Value>> =
            sqlx::query_scalar("select card from link_previews where url = $1")
                .bind(format!("{site}/launch"))
                .fetch_optional(&app.db)
                .await
                .unwrap();
        if let Some(card) = row {
            assert!(card.is_none(), "a private address was fetched: {card:?}");
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused, "the preview worker never looked at the link");
    let (_, history) = api(
        &app,
        &token,
        "conversations.history",
        json!({ "channel": format!("C{general}") }),
    )
    .await;
    assert!(history["messages"][0].get("attachments").is_none());
}

#[tokio::test]
async fn a_workspace_quota_is_set_and_shown_on_the_admin_page_and_enforced() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    let saved = ada
        .post_form(
            &format!("/w/{slug}/admin/settings"),
            &[
                ("name", "Acme"),
                ("channel_creators", "members"),
                ("file_quota_mb", "1"),
                ("link_previews", "1"),
            ],
        )
        .await;
    assert!(saved.status().is_redirection(), "{}", saved.status());
    let (status, first) = upload(
        &ada,
        &slug,
        "a.bin",
        vec![1; 600 * 1024],
        "application/octet-stream",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, page) = ada.page(&format!("/w/{slug}/admin/settings")).await;
    assert!(
        page.contains("600 KB of 1.0 MB"),
        "the admin page shows the use beside the quota"
    );
    let (status, second) = upload(
        &ada,
        &slug,
        "b.bin",
        vec![2; 600 * 1024],
        "application/octet-stream",
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        second["error"]
            .as_str()
            .unwrap()
            .contains("used its 1.0 MB"),
        "{second}"
    );
    let ready: i64 = sqlx::query_scalar("select count(*) from files where state = 'ready'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(ready, 1);
    let (_, audit) = ada.page(&format!("/w/{slug}/admin/audit")).await;
    assert!(audit.contains("file quota: 1 MB"), "the change is audited");
}

/// A JPEG with an EXIF block whose GPS IFD holds a latitude (51° 30′ 26.25″).
fn jpeg_with_location() -> Vec<u8> {
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    // IFD0 at 8: one entry, the GPS IFD's pointer (tag 0x8825, a LONG) → 26.
    for part in [
        1u16.to_le_bytes(),
        0x8825u16.to_le_bytes(),
        4u16.to_le_bytes(),
    ] {
        tiff.extend_from_slice(&part);
    }
    for part in [1u32.to_le_bytes(), 26u32.to_le_bytes(), 0u32.to_le_bytes()] {
        tiff.extend_from_slice(&part);
    }
    // The GPS IFD at 26: GPSLatitude, three rationals stored at 44.
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&5u16.to_le_bytes());
    tiff.extend_from_slice(&3u32.to_le_bytes());
    tiff.extend_from_slice(&44u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    for v in [51u32, 1, 30, 1, 2625, 100] {
        tiff.extend_from_slice(&v.to_le_bytes());
    }
    let mut plain = Vec::new();
    image::DynamicImage::new_rgb8(64, 48)
        .write_to(&mut Cursor::new(&mut plain), image::ImageFormat::Jpeg)
        .unwrap();
    let mut jpeg = plain[..2].to_vec();
    jpeg.extend_from_slice(&[0xFF, 0xE1]);
    jpeg.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    jpeg.extend_from_slice(b"Exif\0\0");
    jpeg.extend_from_slice(&tiff);
    jpeg.extend_from_slice(&plain[2..]);
    jpeg
}

#[tokio::test]
async fn a_messages_files_follow_it_into_threads_the_files_list_and_away_when_it_is_deleted() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let root = ada.send(&slug, general, "holiday photos?", None).await["seq"]
        .as_i64()
        .unwrap();

    // Bob answers in the thread with a photo whose EXIF says where it was taken.
    let photo = jpeg_with_location();
    let latitude = 2625u32.to_le_bytes();
    assert!(photo.windows(4).any(|w| w == latitude));
    let (status, answer) = upload(&bob, &slug, "beach.jpg", photo, "image/jpeg").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = answer["file"]["id"].as_str().unwrap().to_owned();
    let root_text = root.to_string();
    let replied = bob
        .post_form(
            &format!("/w/{slug}/c/{general}/messages"),
            &[
                ("text", ""),
                ("files", &id),
                ("thread_root_seq", &root_text),
            ],
        )
        .await;
    assert!(replied.status().is_redirection());
    let (_, thread) = ada
        .page(&format!("/w/{slug}/c/{general}?thread={root}"))
        .await;
    assert!(
        thread.contains(&format!("/files/{id}/thumb")),
        "the photo is in the thread"
    );
    // What Ada downloads has no location, and is otherwise the same picture.
    let served = ada
        .get(&format!("/files/{id}/beach.jpg"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(
        !served.windows(4).any(|w| w == latitude),
        "the GPS block was emptied"
    );
    assert_eq!(image::load_from_memory(&served).unwrap().width(), 64);

    // The channel's Files list has it, with its uploader; the conversation links to it.
    let (_, channel_page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(channel_page.contains(&format!("href=\"/w/{slug}/c/{general}/files\">Files</a>")));
    let (status, list) = ada.page(&format!("/w/{slug}/c/{general}/files")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.contains("beach.jpg") && list.contains("shared by Bob"),
        "{list}"
    );

    // Bob deletes his reply: the photo is gone for everyone, at once.
    let reply_seq: i64 = sqlx::query_scalar("select seq from file_shares where file_id = $1")
        .bind(&id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let deleted = bob
        .post_form(
            &format!("/w/{slug}/c/{general}/messages/{reply_seq}/delete"),
            &[],
        )
        .await;
    assert!(deleted.status().is_redirection() || deleted.status().is_success());
    for who in [&ada, &bob] {
        assert_eq!(
            who.get(&format!("/files/{id}/beach.jpg")).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let (_, list) = ada.page(&format!("/w/{slug}/c/{general}/files")).await;
    assert!(!list.contains("beach.jpg"));

    // An object that no row names (a crash between writing bytes and the row) is collected
    // once it is an hour old; the deleted message's file goes after the grace period.
    let dir = helpers::files_dir(&app.db_name);
    let stray = dir.join("stray-object");
    std::fs::write(&stray, b"left by a crash").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&stray)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let kept = natter::files::gc::collect(&app.state, natter::files::gc::GRACE)
        .await
        .unwrap();
    assert_eq!(
        (kept.rows, kept.objects),
        (0, 1),
        "only the stray object goes"
    );
    assert!(!stray.exists());
    let (ok, printed) = {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
            .args(["files", "gc", "--grace-secs", "0"])
            .env(
                "DATABASE_URL",
                format!("{}/{}", app.admin_url(), app.db_name),
            )
            .env("NATTER_FILES_DIR", &dir)
            .env("RUST_LOG", "error")
            .env_remove("REDIS_URL")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    assert!(
        ok && printed.contains("removed 1 file records and 2 stored objects"),
        "{printed}"
    );
}

#[tokio::test]
async fn video_plays_in_place_with_ranges_and_uploads_are_rate_limited_like_sending() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    // The start of an MP4 (an `ftyp` box), then bytes: recognised as video by its bytes.
    let mut mp4 = vec![0, 0, 0, 0x18];
    mp4.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    mp4.extend(std::iter::repeat_n(7u8, 5000));
    let id = share(&ada, &slug, general, "demo.mp4", mp4.clone()).await;
    let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(
        page.contains(&format!(
            "<video controls preload=\"metadata\" src=\"/files/{id}/demo.mp4\""
        )),
        "the video plays in place"
    );
    let ranged = ada
        .client
        .get(format!("{}/files/{id}/demo.mp4", ada.base))
        .header("range", "bytes=-100")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()[CONTENT_TYPE], "video/mp4");
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes {}-{}/{}", mp4.len() - 100, mp4.len() - 1, mp4.len())
    );
    assert_eq!(
        ranged.bytes().await.unwrap().to_vec(),
        mp4[mp4.len() - 100..].to_vec()
    );

    // A burst of uploads meets the same kind of limit as a burst of sends: a clear 429.
    let mut limited = None;
    for n in 0..40 {
        let (status, answer) = upload(
            &ada,
            &slug,
            &format!("n{n}.txt"),
            b"x".to_vec(),
            "text/plain",
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(answer);
            break;
        }
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let answer = limited.expect("a burst of 40 uploads is limited");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("uploading files"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_file_sent_over_the_socket_arrives_live_and_its_deletion_too() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let (ada_token, bob_token) = (token(&app, "ada").await, token(&app, "bob").await);
    let (mut ada_ws, _) = crate::ws::Ws::hello(&app.base, &ada_token, json!({})).await;
    let (mut bob_ws, _) = crate::ws::Ws::hello(&app.base, &bob_token, json!({})).await;
    let (_, answer) = upload(&ada, &slug, "plan.png", png(400, 200), "image/png").await;
    let id = answer["file"]["id"].as_str().unwrap().to_owned();
    // As the composer's script sends it: the uploaded file's id beside an empty text.
    ada_ws
        .send(json!({ "type": "send", "channel_id": general, "client_msg_id": "f1", "text": "", "file_ids": [id] }))
        .await;
    let ack = ada_ws.next_of("ack").await;
    let seq = ack["seq"].as_i64().unwrap();
    let message = bob_ws.next_of("message").await;
    assert_eq!(message["seq"], seq);
    assert!(
        message["html"]
            .as_str()
            .unwrap()
            .contains(&format!("/files/{id}/thumb")),
        "{message}"
    );
    // Someone else's file id is refused, with nothing stored.
    let (_, theirs) = upload(&bob, &slug, "mine.txt", b"bob's".to_vec(), "text/plain").await;
    ada_ws
        .send(json!({ "type": "send", "channel_id": general, "client_msg_id": "f2", "text": "", "file_ids": [theirs["file"]["id"]] }))
        .await;
    let refused = ada_ws.next_of("error").await;
    assert_eq!(refused["code"], "file_not_found", "{refused}");
    // Deleting the file redraws the message for everyone, without it.
    let deleted = ada.post_form(&format!("/files/{id}/delete"), &[]).await;
    assert!(deleted.status().is_redirection());
    let updated = bob_ws.next_of("message.updated").await;
    assert_eq!(updated["seq"], seq);
    assert!(
        !updated["html"].as_str().unwrap().contains(&id),
        "{updated}"
    );
    let last: i64 = sqlx::query_scalar("select last_seq from channels where id = $1")
        .bind(general)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(last, seq, "the refused send used no seq");
}
