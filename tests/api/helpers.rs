//! The test harness: a real Natter on a random port, a fresh database per test, and
//! browser-like clients (cookie jar, CSRF token from the page, no automatic redirects).

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};

use natter::{AppState, Config, Server};
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::{Client, Response, StatusCode, redirect};
use sqlx::PgPool;

/// The server under test and a pool on its database, for checking what was stored.
pub struct TestApp {
    pub base: String,
    pub db: PgPool,
    /// The server's own state, to publish what test setup writes directly.
    pub state: AppState,
    admin_url: String,
    pub db_name: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(None).await
    }

    /// A server using the Redis at `redis_url` for its bus and presence.
    pub async fn spawn_with(redis_url: Option<String>) -> TestApp {
        TestApp::spawn_configured(
            redis_url,
            std::env::var("MEILI_URL").ok().filter(|u| !u.is_empty()),
        )
        .await
    }

    /// A server with this sign-up policy (`NATTER_SIGNUP`).
    pub async fn spawn_signup(signup: natter::config::Signup) -> TestApp {
        TestApp::spawn_inner(None, None, |config| config.signup = signup).await
    }

    /// A server behind a reverse proxy on 127.0.0.1 (`NATTER_TRUSTED_PROXIES`).
    pub async fn spawn_behind_proxy() -> TestApp {
        TestApp::spawn_inner(None, None, |config| {
            config.trusted_proxies =
                vec![natter::web::client::Cidr::parse("127.0.0.1/32").unwrap()];
        })
        .await
    }

    /// A server with the usual search backend and its configuration changed by `configure`.
    pub async fn spawn_configured_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        let meili = std::env::var("MEILI_URL").ok().filter(|u| !u.is_empty());
        TestApp::spawn_inner(None, meili, configure).await
    }

    /// A server with its own Redis and Meilisearch URLs.
    pub async fn spawn_configured(redis_url: Option<String>, meili_url: Option<String>) -> TestApp {
        TestApp::spawn_inner(redis_url, meili_url, |_| {}).await
    }

    /// A server on the Postgres server at `admin_url` (one a test started for itself).
    pub async fn spawn_on_postgres(admin_url: &str) -> TestApp {
        TestApp::spawn_at(admin_url.to_owned(), None, None, |_| {}).await
    }

    async fn spawn_inner(
        redis_url: Option<String>,
        meili_url: Option<String>,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
        TestApp::spawn_at(admin_url, redis_url, meili_url, configure).await
    }

    async fn spawn_at(
        admin_url: String,
        redis_url: Option<String>,
        meili_url: Option<String>,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let db_name = format!("natter_test_{}", uuid::Uuid::new_v4().simple());
        fresh_database(&admin_url, &db_name).await;
        let mut config = Config {
            bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
            public_url: String::new(),
            database_url: format!("{admin_url}/{db_name}"),
            redis_url,
            redis_prefix: format!("natter-test-{db_name}"),
            outbound_allow_private: true,
            oidc: None,
            meili_url,
            meili_master_key: std::env::var("MEILI_MASTER_KEY").ok(),
            meili_index: format!("natter_test_{db_name}"),
            rate_limits: true,
            signup: natter::config::Signup::Open,
            trusted_proxies: Vec::new(),
            files: natter::config::FilesConfig::in_dir(files_dir(&db_name)),
            notify: natter::config::NotifyConfig::without_mail(""),
        };
        configure(&mut config);
        let server = Server::build(config)
            .await
            .expect("the server starts against a fresh database");
        let base = format!("http://{}", server.local_addr());
        let db = server.state().db.clone();
        let state = server.state().clone();
        tokio::spawn(server.run(std::future::pending()));
        TestApp {
            base,
            db,
            state,
            admin_url,
            db_name,
        }
    }

    /// Runs the `natter` binary on this test's database; whether it succeeded, and what it
    /// printed (stdout, then stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
            .args(args)
            .env(
                "DATABASE_URL",
                format!("{}/{}", self.admin_url, self.db_name),
            )
            .env("RUST_LOG", "error")
            .env_remove("REDIS_URL")
            .output()
            .expect("the natter binary runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    }

    /// The Postgres server the test's database is on.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// Another node on the same database (sessions live in Postgres); returns its base URL.
    pub async fn second_node(&self) -> String {
        self.node_with(None).await
    }

    /// Another node on the same database, with its own bus settings; returns its base URL.
    pub async fn node_with(&self, redis_url: Option<String>) -> String {
        self.node(
            redis_url,
            std::env::var("MEILI_URL").ok().filter(|u| !u.is_empty()),
        )
        .await
    }

    /// Another node on the same database, with its own Meilisearch URL.
    pub async fn node_with_meili(&self, meili_url: Option<String>) -> String {
        self.node(None, meili_url).await
    }

    async fn node(&self, redis_url: Option<String>, meili_url: Option<String>) -> String {
        let config = Config {
            bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
            public_url: String::new(),
            database_url: format!("{}/{}", self.admin_url, self.db_name),
            redis_url,
            redis_prefix: format!("natter-test-{}", self.db_name),
            outbound_allow_private: true,
            oidc: None,
            meili_url,
            meili_master_key: std::env::var("MEILI_MASTER_KEY").ok(),
            meili_index: format!("natter_test_{}", self.db_name),
            rate_limits: true,
            signup: natter::config::Signup::Open,
            trusted_proxies: Vec::new(),
            files: natter::config::FilesConfig::in_dir(files_dir(&self.db_name)),
            notify: natter::config::NotifyConfig::without_mail(""),
        };
        let server = Server::build(config).await.expect("a second node starts");
        let base = format!("http://{}", server.local_addr());
        tokio::spawn(server.run(std::future::pending()));
        base
    }

    /// Waits until the search index has taken every change (at once without Meilisearch:
    /// Postgres search reads the log itself).
    pub async fn search_settled(&self) {
        if !matches!(self.state.search.as_ref(), natter::index::Backend::Meili(_)) {
            return;
        }
        for _ in 0..300 {
            let waiting: i64 = sqlx::query_scalar("select count(*) from search_outbox")
                .fetch_one(&self.db)
                .await
                .unwrap();
            if waiting == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the search outbox did not drain in 15 s");
    }

    /// A new browser with its own cookie jar.
    pub fn browser(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            client,
            jar,
            base: self.base.clone(),
            csrf: String::new(),
        }
    }

    /// Signs up a new account in a new browser, logged in.
    pub async fn signup(&self, username: &str) -> Browser {
        let mut browser = self.browser();
        browser.refresh_csrf("/signup").await;
        let email = format!("{username}@example.com");
        let response = browser
            .post_form(
                "/signup",
                &[
                    ("email", &email),
                    ("username", username),
                    ("name", &title_case(username)),
                    ("password", "password123"),
                ],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "sign up of {username} redirects"
        );
        browser.refresh_csrf("/").await;
        browser
    }

    /// Creates a workspace as `owner`; returns its slug and the id of its #general.
    pub async fn workspace(&self, owner: &Browser, name: &str) -> (String, i64) {
        let response = owner.post_form("/workspaces", &[("name", name)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let slug = location(&response).trim_start_matches("/w/").to_owned();
        let general = owner.get(&format!("/w/{slug}")).await;
        let general_id = location(&general)
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        (slug, general_id)
    }

    /// Invites `who` into the workspace through an invite link made by `inviter`.
    pub async fn join_by_invite(&self, inviter: &Browser, who: &Browser, slug: &str) {
        let link = inviter.invite_link(slug).await;
        let path = link.trim_start_matches(&self.base).to_owned();
        let response = who.post_form(&path, &[]).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "joining by invite redirects"
        );
        assert_eq!(location(&response), format!("/w/{slug}"));
    }
}

/// Creates `db_name` as a copy of a template database that holds the migrated schema, so a
/// test pays for a file copy, not for every migration. The template is named after the
/// migrations it holds, made once by whichever test gets there first (an advisory lock keeps
/// the others waiting, across nextest's processes), and reused by later runs until the
/// migrations change; the server still runs `migrate` on its copy, which finds nothing to do.
/// The directory a test's server keeps files in: one per test database, under the system's
/// temporary directory.
pub fn files_dir(db_name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join("natter-test-files").join(db_name)
}

async fn fresh_database(admin_url: &str, db_name: &str) {
    use sqlx::Connection;
    let template = template_name();
    let mut admin = sqlx::PgConnection::connect(&format!("{admin_url}/postgres"))
        .await
        .expect("the tests reach Postgres (TEST_DATABASE_URL, else 127.0.0.1:5432)");
    // Any fixed number: the lock only orders test processes making the template.
    const TEMPLATE_LOCK: i64 = 0x6e61_7474_6572;
    sqlx::query("select pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut admin)
        .await
        .unwrap();
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(&template)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    if !exists {
        let building = format!("{template}_building");
        for statement in [
            format!("drop database if exists {building}"),
            format!("create database {building}"),
        ] {
            sqlx::query(&statement).execute(&mut admin).await.unwrap();
        }
        let pool = natter::db::connect(&format!("{admin_url}/{building}"))
            .await
            .unwrap();
        natter::db::migrate(&pool)
            .await
            .expect("the migrations apply to an empty database");
        // A database with open connections cannot be renamed, and a closed pool's backends
        // take a moment to exit on a busy machine (55006, "being accessed by other users").
        pool.close().await;
        let rename = format!("alter database {building} rename to {template}");
        // A backend that outlives its closed pool (seen once, idle after the migrations'
        // COMMIT for minutes) would keep the rename failing: the template's building copy is
        // this process's alone, so anything still connected to it is ended.
        let leftovers = "select pg_terminate_backend(pid) from pg_stat_activity
                         where datname = $1 and pid <> pg_backend_pid()";
        let mut tries = 0;
        while let Err(e) = sqlx::query(&rename).execute(&mut admin).await {
            sqlx::query(leftovers)
                .bind(&building)
                .execute(&mut admin)
                .await
                .unwrap();
            let busy = e.as_database_error().and_then(|d| d.code()).as_deref() == Some("55006");
            tries += 1;
            assert!(busy && tries < 100, "renaming the template: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("create database {db_name} template {template}"))
        .execute(&mut admin)
        .await
        .expect("a test database is copied from the template");
}

/// `natter_template_<hash of the migrations>`: a change to any migration makes a new one.
fn template_name() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations/ is readable")
        .map(|entry| entry.expect("a readable entry").path())
        .collect();
    files.sort();
    let mut all = String::new();
    for file in files {
        all.push_str(&file.display().to_string());
        all.push_str(&std::fs::read_to_string(&file).expect("a readable migration"));
    }
    format!(
        "natter_template_{}",
        &natter::secrets::hash_secret(&all)[..16]
    )
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let (admin_url, db_name) = (self.admin_url.clone(), self.db_name.clone());
        // Drop runs inside the test's runtime; the cleanup needs a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                // The test's Meilisearch index goes with its database.
                if let Ok(url) = std::env::var("MEILI_URL") {
                    let key = std::env::var("MEILI_MASTER_KEY").unwrap_or_default();
                    let _ = reqwest::Client::new()
                        .delete(format!("{url}/indexes/natter_test_{db_name}"))
                        .bearer_auth(key)
                        .send()
                        .await;
                }
                if let Ok(admin) = PgPool::connect(&format!("{admin_url}/postgres")).await {
                    let _ = sqlx::query(&format!("drop database if exists {db_name} with (force)"))
                        .execute(&admin)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A browser: a cookie jar and the CSRF token of its session.
pub struct Browser {
    pub client: Client,
    pub jar: Arc<Jar>,
    pub base: String,
    pub csrf: String,
}

impl Browser {
    /// The `Cookie` header this browser sends to the server.
    pub fn cookie_header(&self) -> String {
        let url = self.base.parse().unwrap();
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// A page's status and HTML.
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    /// Reads the session's CSRF token from a page, as a form would carry it.
    pub async fn refresh_csrf(&mut self, path: &str) {
        let (_, html) = self.page(path).await;
        self.csrf = between(&html, "<meta name=\"csrf-token\" content=\"", "\"")
            .expect("pages carry a CSRF token")
            .to_owned();
    }

    /// Submits a form with the session's CSRF token, as the browser would.
    /// Like [`Browser::post_form`], with one more header (as a proxy would add).
    pub async fn client_post_form_with_header(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        (name, value): (&str, &str),
    ) -> Response {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf)];
        form.extend_from_slice(fields);
        self.client
            .post(format!("{}{path}", self.base))
            .header(name, value)
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf)];
        form.extend_from_slice(fields);
        self.client
            .post(format!("{}{path}", self.base))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Posts a message the way the page's script does and checks it was stored (201, or 200
    /// for a retry); returns the JSON answer.
    pub async fn send(
        &self,
        slug: &str,
        channel_id: i64,
        text: &str,
        client_msg_id: Option<&str>,
    ) -> serde_json::Value {
        let (status, body) = self.try_send(slug, channel_id, text, client_msg_id).await;
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "sending {text:?} was answered {status}: {body}"
        );
        body
    }

    /// Posts a message the way the page's script does; returns the status and the JSON answer,
    /// for tests of what is refused.
    pub async fn try_send(
        &self,
        slug: &str,
        channel_id: i64,
        text: &str,
        client_msg_id: Option<&str>,
    ) -> (StatusCode, serde_json::Value) {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf), ("text", text)];
        if let Some(id) = client_msg_id {
            form.push(("client_msg_id", id));
        }
        let response = self
            .client
            .post(format!("{}/w/{slug}/c/{channel_id}/messages", self.base))
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let json = response
            .json()
            .await
            .expect("a request for JSON gets JSON, errors too");
        (status, json)
    }

    /// Creates a channel through the form; returns its id.
    pub async fn create_channel(&self, slug: &str, name: &str, private: bool) -> i64 {
        let mut fields = vec![("name", name)];
        if private {
            fields.push(("private", "1"));
        }
        let response = self
            .post_form(&format!("/w/{slug}/channels"), &fields)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "the channel is created"
        );
        location(&response)
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Makes an invite link on the workspace's invite page.
    pub async fn invite_link(&self, slug: &str) -> String {
        let response = self
            .post_form(
                &format!("/w/{slug}/invites"),
                &[("expires_in_days", "7"), ("max_uses", "10")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let html = response.text().await.unwrap();
        between(
            &html,
            "id=\"invite-link\" class=\"copy-field\" type=\"text\" readonly value=\"",
            "\"",
        )
        .expect("the new link is shown")
        .to_owned()
    }

    /// Opens (or finds) the DM with these users from the member list; returns its id.
    pub async fn open_dm(&self, slug: &str, user_ids: &[i64]) -> i64 {
        let ids: Vec<String> = user_ids.iter().map(i64::to_string).collect();
        let fields: Vec<(&str, &str)> = ids.iter().map(|id| ("user_id", id.as_str())).collect();
        let response = self.post_form(&format!("/w/{slug}/dms"), &fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        location(&response)
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The sidebar's view of a channel on some page: (shown as unread, badge count).
    pub async fn sidebar_entry(&self, slug: &str, on_channel: i64, channel_id: i64) -> (i64, i64) {
        let (_, html) = self.page(&format!("/w/{slug}/c/{on_channel}")).await;
        sidebar_entry(&html, channel_id)
    }
}

/// Reads `data-unread` and `data-badge` of a channel's sidebar link.
pub fn sidebar_entry(html: &str, channel_id: i64) -> (i64, i64) {
    let marker = format!("data-channel-id=\"{channel_id}\" ");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("channel {channel_id} is in the sidebar"));
    let rest = &html[at..];
    let unread = between(rest, "data-unread=\"", "\"")
        .unwrap()
        .parse()
        .unwrap();
    let badge = between(rest, "data-badge=\"", "\"")
        .unwrap()
        .parse()
        .unwrap();
    (unread, badge)
}

pub fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .expect("a redirect has a Location")
        .to_str()
        .unwrap()
        .to_owned()
}

fn title_case(username: &str) -> String {
    let mut chars = username.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// The id of a user, by username, from the database.
pub async fn user_id(app: &TestApp, username: &str) -> i64 {
    sqlx::query_scalar("select id from users where username = $1")
        .bind(username)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// A page as a person sees it: without the `<template>` elements the script copies from, which
/// hold markup (a "New messages" line, a pending message) that is not on show.
pub fn shown(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<template") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</template>") {
            Some(end) => rest = &rest[start + end + "</template>".len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// A test part that cannot run because `tool` is missing says so on stderr (nextest shows
/// it in every run's output). Under `CI=true`, where `.ci/run` installs every such tool, a
/// missing one is a failure, not a skip.
pub fn skipped(tool: &str, how_to_get_it: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "{tool} is missing under CI=true, where .ci/run installs it ({how_to_get_it})"
    );
    eprintln!("SKIPPED: this test needs {tool} ({how_to_get_it})");
}

/// The id of the workspace with this slug.
pub async fn workspace_id(app: &TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("select id from workspaces where slug = $1")
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Calls the Web API with a token and JSON arguments.
pub async fn api(
    app: &TestApp,
    token: &str,
    method: &str,
    args: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/{method}", app.base))
        .bearer_auth(token)
        .json(&args)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// A Python that can run `imports` (`import slack_sdk`): `NATTER_TEST_PYTHON`, else the
/// `.venv` that `.ci/run` makes.
pub fn python_with(imports: &str) -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var("NATTER_TEST_PYTHON")
            .ok()
            .map(std::path::PathBuf::from),
        Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")),
    ];
    candidates.into_iter().flatten().find(|python| {
        std::process::Command::new(python)
            .args(["-c", imports])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}
