//! `natter import slack` over an export this test writes: people matched by email or made
//! (deleted ones deactivated, bots as bots), channels merged by name (#general among them),
//! private channels, DMs and group DMs, messages in `ts` order with their times, threads,
//! broadcasts, reactions, edits, pins, bot names, Slack markup as markdown, mentions, history
//! read, search by date; a second run imports nothing; a bad archive is named and refused.

use std::io::Write;

use serde_json::{Value, json};

use crate::helpers::{TestApp, user_id};

/// A zip of these (name, bytes) entries, deflated as Slack's are.
fn zip_of(entries: &[(&str, Vec<u8>)]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("slack-{}.zip", uuid::Uuid::new_v4().simple()));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

fn json_bytes(value: Value) -> Vec<u8> {
    serde_json::to_vec_pretty(&value).unwrap()
}

/// A ts on 2024-03-01 (UTC), `n` seconds after 10:00.
fn ts(n: i64) -> String {
    format!("{}.{:06}", 1_709_287_200 + n, n)
}

fn export() -> Vec<(&'static str, Vec<u8>)> {
    let users = json!([
        { "id": "U1", "name": "ada.l", "profile": { "email": "ADA@example.com", "real_name": "Ada L" } },
        { "id": "U2", "name": "grace", "real_name": "Grace Hopper",
          "profile": { "email": "grace@example.com", "title": "Admiral" } },
        { "id": "U3", "name": "old timer", "deleted": true, "profile": { "email": "old@example.com" } },
        { "id": "UB", "name": "deploybot", "is_bot": true, "profile": { "bot_id": "B1", "real_name": "Deploy Bot" } }
    ]);
    let channels = json!([
        { "id": "C1", "name": "general", "is_general": true, "members": ["U1", "U2", "U3"],
          "topic": { "value": "" } },
        { "id": "C2", "name": "design", "members": ["U1", "U2"], "topic": { "value": "Pixels" } },
        { "id": "C3", "name": "old-stuff", "is_archived": true, "members": ["U2"] }
    ]);
    let groups = json!([{ "id": "G1", "name": "secret", "members": ["U1", "U2"] }]);
    let dms = json!([{ "id": "D1", "members": ["U1", "U2"] }]);
    let mpims =
        json!([{ "id": "M1", "name": "mpdm-ada--grace--old-1", "members": ["U1", "U2", "U3"] }]);
    // Day one, written out of order: the import sorts by ts.
    let general_1 = json!([
        { "type": "message", "user": "U1", "text": "a reply", "ts": ts(20), "thread_ts": ts(10) },
        { "type": "message", "user": "U2", "text": "Thread start", "ts": ts(10), "thread_ts": ts(10),
          "reply_count": 2, "pinned_to": ["C1"] },
        { "type": "message", "user": "U2", "text": "hello <@U1>, see <#C2|design> &amp; <https://example.com|the site>",
          "ts": ts(1), "reactions": [{ "name": "tada", "users": ["U1", "U3"], "count": 2 }] },
        { "type": "message", "subtype": "channel_join", "user": "U3", "text": "<@U3> has joined", "ts": ts(2) },
        { "type": "message", "subtype": "thread_broadcast", "user": "U2", "text": "also in the channel",
          "ts": ts(30), "thread_ts": ts(10) },
        { "type": "message", "subtype": "bot_message", "bot_id": "B1", "username": "deploybot",
          "text": "*deployed* v2", "ts": ts(40) },
        { "type": "message", "subtype": "huddle_thread_new_kind", "user": "U1", "text": "from the future",
          "ts": ts(50) },
        { "type": "message", "user": "U1", "text": "fixed typo", "ts": ts(60),
          "edited": { "user": "U1", "ts": ts(70) } },
        { "type": "message", "user": "U2", "text": "the file", "ts": ts(80),
          "files": [{ "name": "spec.pdf", "title": "Spec", "url_private": "https://files.slack.com/spec.pdf" }] }
    ]);
    let general_2 = json!([
        { "type": "message", "user": "U3", "text": "backlog message number 20", "ts": format!("{}.000100", 1_709_373_600) }
    ]);
    let design = json!([
        { "type": "message", "user": "U1", "text": "<!here> new mockups for <@U2>", "ts": ts(5) }
    ]);
    let dm = json!([{ "type": "message", "user": "U2", "text": "psst", "ts": ts(7) }]);
    let secret = json!([{ "type": "message", "user": "U1", "text": "hush", "ts": ts(8) }]);
    vec![
        ("users.json", json_bytes(users)),
        ("channels.json", json_bytes(channels)),
        ("groups.json", json_bytes(groups)),
        ("dms.json", json_bytes(dms)),
        ("mpims.json", json_bytes(mpims)),
        ("general/2024-03-01.json", json_bytes(general_1)),
        ("general/2024-03-02.json", json_bytes(general_2)),
        ("design/2024-03-01.json", json_bytes(design)),
        ("D1/2024-03-01.json", json_bytes(dm)),
        ("secret/2024-03-01.json", json_bytes(secret)),
        ("old-stuff/2024-03-01.json", json_bytes(json!([]))),
    ]
}

/// `natter import slack` of `path` into `slug`: whether it worked, and what it printed.
fn import(app: &TestApp, slug: &str, path: &std::path::Path) -> (bool, String) {
    app.cli(&[
        "import",
        "slack",
        "--workspace",
        slug,
        path.to_str().unwrap(),
    ])
}

async fn bodies(app: &TestApp, channel_id: i64) -> Vec<(i64, String)> {
    sqlx::query_as("select seq, body from messages where channel_id = $1 order by seq")
        .bind(channel_id)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

async fn channel(app: &TestApp, name: &str) -> i64 {
    sqlx::query_scalar("select id from channels where name = $1")
        .bind(name)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_slack_export_comes_in_whole_in_order_and_only_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    ada.send(&slug, general, "before the move", None).await;
    let path = zip_of(&export());

    let (ok, out) = import(&app, &slug, &path);
    assert!(ok, "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("imported: 1 people matched, 3 created; 6 conversations (0 already imported); 12 messages, 2 reactions, 1 pins; 1 of unknown subtypes as text; skipped: 1 join, leave, topic and other channel events"),
        "{out}"
    );

    // #general was merged into, after what it had; Slack's order and times.
    let rows = bodies(&app, general).await;
    let texts: Vec<&str> = rows.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(
        texts,
        [
            "before the move",
            "hello @ada, see #design & [the site](https://example.com)",
            "Thread start",
            "a reply",
            "also in the channel",
            "**deployed** v2",
            "from the future",
            "fixed typo",
            "the file\n[Spec](https://files.slack.com/spec.pdf)",
            "backlog message number 20",
        ]
    );
    assert_eq!(
        rows.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>(),
        "gapless seqs"
    );
    let (at, edited): (time::OffsetDateTime, Option<time::OffsetDateTime>) = sqlx::query_as(
        "select created_at, edited_at from messages where channel_id = $1 and body = 'fixed typo'",
    )
    .bind(general)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(at.unix_timestamp(), 1_709_287_260);
    assert_eq!(edited.unwrap().unix_timestamp(), 1_709_287_270);

    // The thread: two replies (one also in the channel), its summary and followers.
    let (replies, users): (i32, Vec<i64>) = sqlx::query_as(
        "select reply_count, reply_users from threads where channel_id = $1 and root_seq = 3",
    )
    .bind(general)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let (ada_id, grace_id) = (user_id(&app, "ada").await, user_id(&app, "grace").await);
    assert_eq!((replies, users), (2, vec![ada_id, grace_id]));
    let (shown_total, last_seq): (i64, i64) =
        sqlx::query_as("select shown_total, last_seq from channels where id = $1")
            .bind(general)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        (shown_total, last_seq),
        (9, 10),
        "the plain reply is not in the channel view"
    );
    let follows: i64 = sqlx::query_scalar(
        "select count(*) from thread_follows where channel_id = $1 and root_seq = 3 and read_index = 2",
    )
    .bind(general)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(follows, 2);

    // Reactions (the deleted person's too), the pin, the bot's name, the mention of Ada.
    let reactions: Vec<(String, i64)> = sqlx::query_as(
        "select name, user_id from reactions where channel_id = $1 order by user_id",
    )
    .bind(general)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(reactions.len(), 2);
    assert!(reactions.iter().all(|(n, _)| n == "tada"));
    let pinned: i64 = sqlx::query_scalar("select seq from pins where channel_id = $1")
        .bind(general)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(pinned, 3);
    let (sender, is_bot): (Option<String>, bool) = sqlx::query_as(
        "select m.sender_name, u.is_bot from messages m join users u on u.id = m.user_id
         where m.channel_id = $1 and m.seq = 6",
    )
    .bind(general)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((sender.as_deref(), is_bot), (Some("deploybot"), true));
    let mentioned: i64 = sqlx::query_scalar(
        "select count(*) from mentions where user_id = $1 and channel_id = $2 and seq = 2",
    )
    .bind(ada_id)
    .bind(general)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(mentioned, 1);

    // People: Grace made with her name and title, the deleted one deactivated.
    let (name, title): (String, String) =
        sqlx::query_as("select display_name, title from users where email = 'grace@example.com'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((name.as_str(), title.as_str()), ("Grace Hopper", "Admiral"));
    let old_gone: bool = sqlx::query_scalar(
        "select deactivated_at is not null from users where email = 'old@example.com'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(old_gone);

    // Other conversations: topic, archive, private, a DM and a group DM.
    let (topic, kind): (String, String) =
        sqlx::query_as("select topic, kind from channels where name = 'design'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((topic.as_str(), kind.as_str()), ("Pixels", "public"));
    assert_eq!(
        bodies(&app, channel(&app, "design").await).await[0].1,
        "@here new mockups for @grace"
    );
    let archived: bool =
        sqlx::query_scalar("select archived_at is not null from channels where name = 'old-stuff'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(archived);
    let secret: String = sqlx::query_scalar("select kind from channels where name = 'secret'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(secret, "private");
    let dm: String = sqlx::query_scalar(
        "select m.body from messages m join channels c on c.id = m.channel_id where c.kind = 'dm'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(dm, "psst");
    let group: i64 = sqlx::query_scalar(
        "select count(*) from channel_members cm join channels c on c.id = cm.channel_id
         where c.kind = 'group_dm'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(group, 3);

    // History counts as read, and search finds it by its own date.
    let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    let (unread, _) = crate::helpers::sidebar_entry(&page, channel(&app, "design").await);
    assert_eq!(unread, 0);
    let (_, found) = ada
        .page(&format!("/w/{slug}/search?q=backlog+on%3A2024-03-02"))
        .await;
    assert!(
        found.contains(&format!("/c/{general}?around=10#m-10")),
        "{found}"
    );
    let (_, none) = ada
        .page(&format!("/w/{slug}/search?q=backlog+on%3A2024-03-01"))
        .await;
    assert!(!none.contains(&format!("/c/{general}?around=10#m-10")));

    // Again: nothing twice.
    let (ok, out) = import(&app, &slug, &path);
    assert!(ok, "{out}");
    assert!(
        out.lines().last().unwrap().starts_with("imported: 0 people matched, 0 created; 0 conversations (6 already imported); 0 messages"),
        "{out}"
    );
    assert_eq!(bodies(&app, general).await.len(), 10);
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_bad_archive_is_named_and_what_was_complete_stays() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let run = |path: &std::path::Path| import(&app, &slug, path);
    let not_zip = std::env::temp_dir().join(format!("not-{}.zip", uuid::Uuid::new_v4().simple()));
    std::fs::write(&not_zip, b"just text").unwrap();
    let with = |changes: &[(&'static str, Vec<u8>)]| {
        let mut entries: Vec<(&str, Vec<u8>)> = export()
            .into_iter()
            .filter(|(name, _)| !changes.iter().any(|(n, _)| n == name))
            .collect();
        entries.extend(changes.iter().filter(|(_, b)| !b.is_empty()).cloned());
        zip_of(&entries)
    };
    let duplicate = json_bytes(json!([
        { "id": "C1", "name": "general", "is_general": true },
        { "id": "C9", "name": "General" }
    ]));
    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        (not_zip, "is not a zip archive"),
        (
            with(&[("../evil.json", b"{}".to_vec())]),
            "points outside the archive",
        ),
        (with(&[("users.json", Vec::new())]), "users.json is missing"),
        (
            with(&[("channels.json", duplicate)]),
            "channels.json: two channels are named #general",
        ),
        (
            with(&[("users.json", b"[{\"id\": \"U1\", ".to_vec())]),
            "users.json is not a valid Slack export file",
        ),
        (
            with(&[("general/2024-03-02.json", vec![b' '; 24 * 1024 * 1024])]),
            "refused as a zip bomb",
        ),
    ];
    for (path, says) in &cases {
        let (ok, out) = run(path);
        assert!(!ok, "{says}: {out}");
        assert!(out.contains(says), "{says}: {out}");
        let _ = std::fs::remove_file(path);
    }
    assert_eq!(bodies(&app, general).await.len(), 0, "nothing of #general");

    // A broken day in #design: #general (before it) stays whole, #design has nothing.
    let path = with(&[("design/2024-03-01.json", b"[{\"ts\": ".to_vec())]);
    let (ok, out) = run(&path);
    assert!(!ok);
    assert!(
        out.contains("design/2024-03-01.json is not a valid Slack export file"),
        "{out}"
    );
    assert!(
        out.contains("stopped; what was complete stays: imported:"),
        "{out}"
    );
    assert_eq!(bodies(&app, general).await.len(), 9);
    let design: i64 = sqlx::query_scalar(
        "select count(*) from messages m join channels c on c.id = m.channel_id where c.name = 'design'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(design, 0);
    // Mended and run again: #general is not imported twice, #design comes in.
    let mended = zip_of(&export());
    let (ok, out) = run(&mended);
    assert!(ok, "{out}");
    assert!(out.contains("(1 already imported)"), "{out}");
    assert_eq!(bodies(&app, general).await.len(), 9);
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(mended);
}

#[tokio::test]
async fn an_export_imported_into_a_new_workspace_gives_the_same_conversations() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (from, _) = app.workspace(&ada, "Acme").await;
    let path = zip_of(&export());
    let (ok, out) = import(&app, &from, &path);
    assert!(ok, "{out}");
    let out_path =
        std::env::temp_dir().join(format!("natter-{}.zip", uuid::Uuid::new_v4().simple()));
    let (ok, out) = app.cli(&[
        "export",
        "--workspace",
        &from,
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert!(
        out.lines().last().unwrap().starts_with("exported: "),
        "{out}"
    );

    let (to, _) = app.workspace(&ada, "Elsewhere").await;
    let (ok, out) = import(&app, &to, &out_path);
    assert!(ok, "{out}");
    assert!(
        out.contains("0 created"),
        "everyone matched by email: {out}"
    );

    // The same messages in the same order per conversation, the same threads and reactions.
    let shape = async |slug: &str| -> Vec<(String, String, i64, Option<i64>, i64)> {
        sqlx::query_as(
            "select coalesce(c.name, c.kind), m.body, m.seq - min(m.seq) over (partition by c.id),
                    m.thread_root_seq - min(m.seq) over (partition by c.id),
                    (select count(*) from reactions r where r.channel_id = m.channel_id and r.seq = m.seq)
             from messages m join channels c on c.id = m.channel_id
             join workspaces w on w.id = c.workspace_id
             where w.slug = $1 and m.deleted_at is null
             order by coalesce(c.name, c.kind), m.seq",
        )
        .bind(slug)
        .fetch_all(&app.db)
        .await
        .unwrap()
    };
    let (before, after) = (shape(&from).await, shape(&to).await);
    assert_eq!(before.len(), 12);
    assert_eq!(before, after);
    let threads = async |slug: &str| -> Vec<(i32, i64)> {
        sqlx::query_as(
            "select t.reply_count, cardinality(t.reply_users)::bigint from threads t
             join channels c on c.id = t.channel_id join workspaces w on w.id = c.workspace_id
             where w.slug = $1",
        )
        .bind(slug)
        .fetch_all(&app.db)
        .await
        .unwrap()
    };
    assert_eq!(threads(&from).await, threads(&to).await);
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(out_path);
}
