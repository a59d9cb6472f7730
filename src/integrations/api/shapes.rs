//! Natter's rows in Slack's JSON shapes, and the paging cursors.

use serde_json::{Value, json};

use super::db::ApiUser;
use super::{ApiError, Ctx, Params};
use crate::channels::ChannelKind;
use crate::channels::db::ChannelInfo;
use crate::integrations::ids;
use crate::messages::MessageRow;
use crate::messages::reactions::Group;

pub fn channel(c: &ChannelInfo) -> Value {
    let name = c
        .name
        .clone()
        .unwrap_or_else(|| ids::channel_id(c.kind, c.id));
    let mut value = json!({
        "id": ids::channel_id(c.kind, c.id),
        "name": name,
        "name_normalized": name,
        "is_channel": c.kind == ChannelKind::Public,
        "is_group": c.kind == ChannelKind::Private,
        "is_im": c.kind == ChannelKind::Dm,
        "is_mpim": c.kind == ChannelKind::GroupDm,
        "is_private": !c.kind.is_public(),
        "is_archived": c.archived,
        "is_general": c.is_general,
        "is_member": c.last_read_seq.is_some(),
        "created": c.created_at.unix_timestamp(),
        "creator": c.created_by.map(ids::user_id).unwrap_or_default(),
        "context_team_id": ids::team_id(c.workspace_id),
        "topic": { "value": c.topic, "creator": "", "last_set": 0 },
        "purpose": { "value": "", "creator": "", "last_set": 0 },
        "num_members": c.member_count,
    });
    if let Some(other) = c.other_user {
        value["user"] = json!(ids::user_id(other));
    }
    value
}

/// A message in Slack's shape, with its reactions when they were loaded (`Group`s of this
/// message, in the order first used).
pub fn message(ctx: &Ctx<'_>, row: &MessageRow, reactions: &[Group]) -> Value {
    let m = &row.message;
    let mut value = json!({
        "type": "message",
        "user": ids::user_id(m.user_id),
        "text": m.body,
        "ts": ids::ts(m.created_at, m.seq),
        "team": ids::team_id(ctx.workspace_id),
    });
    if let Some(id) = &m.client_msg_id {
        value["client_msg_id"] = json!(id);
    }
    if let Some(edited) = m.edited_at {
        value["edited"] = json!({ "user": ids::user_id(m.user_id), "ts": format!("{}.000000", edited.unix_timestamp()) });
    }
    if row.is_bot {
        value["bot_id"] = json!(format!("B{}", m.user_id));
    }
    if let Some(name) = &row.sender_name {
        value["username"] = json!(name);
    }
    if m.deleted_at.is_some() {
        // A root deleted with its thread kept: Slack's tombstone.
        value["subtype"] = json!("tombstone");
        value["text"] = json!("This message was deleted.");
    }
    match (m.thread_root_seq, row.thread_root_at) {
        (Some(root), Some(root_at)) => {
            value["thread_ts"] = json!(ids::ts(root_at, root));
            value["parent_user_id"] = json!("");
            if m.reply_broadcast {
                value["subtype"] = json!("thread_broadcast");
            }
        }
        _ if m.reply_count > 0 || m.latest_reply_seq.is_some() => {
            value["thread_ts"] = value["ts"].clone();
            value["reply_count"] = json!(m.reply_count);
            value["reply_users_count"] = json!(m.reply_users.len());
            value["reply_users"] = json!(
                m.reply_users
                    .iter()
                    .map(|u| ids::user_id(*u))
                    .collect::<Vec<_>>()
            );
            if let (Some(seq), Some(at)) = (m.latest_reply_seq, m.latest_reply_at) {
                value["latest_reply"] = json!(ids::ts(at, seq));
            }
        }
        _ => {}
    }
    if !reactions.is_empty() {
        value["reactions"] = reactions.iter().map(reaction).collect();
    }
    let files = row.files();
    if !files.is_empty() && m.deleted_at.is_none() {
        value["files"] = files.iter().map(|f| file(ctx.state, f)).collect();
        value["upload"] = json!(true);
    }
    if let Some(cards) = m.previews.as_ref().filter(|_| !m.previews_off) {
        value["attachments"] = cards.0.iter().map(|p| preview(ctx.state, p)).collect();
    }
    value
}

/// A file in Slack's shape. `url_private` needs the token (or the browser's session).
pub fn file(state: &crate::state::AppState, f: &crate::files::FileRef) -> Value {
    let base = &state.config.public_url;
    let mut value = json!({
        "id": f.id,
        "created": f.created,
        "timestamp": f.created,
        "name": f.name,
        "title": f.title,
        "mimetype": f.mimetype,
        "filetype": crate::files::types::slack_filetype(&f.mimetype, &f.name),
        "pretty_type": f.kind_label(),
        "user": ids::user_id(f.user_id),
        "size": f.size,
        "mode": "hosted",
        "is_external": false,
        "is_public": false,
        "public_url_shared": false,
        "url_private": format!("{base}{}", f.url()),
        "url_private_download": format!("{base}{}", f.download_url()),
        "permalink": format!("{base}{}", f.url()),
    });
    if let Some(thumb) = f.thumb_url() {
        let (w, h) = f.thumb_dimensions();
        value["thumb_360"] = json!(format!("{base}{thumb}"));
        value["thumb_360_w"] = json!(w);
        value["thumb_360_h"] = json!(h);
        value["original_w"] = json!(f.width);
        value["original_h"] = json!(f.height);
    }
    value
}

/// A link preview as Slack's unfurl attachment.
fn preview(state: &crate::state::AppState, p: &crate::messages::db::Preview) -> Value {
    let mut value = json!({
        "from_url": p.url,
        "original_url": p.url,
        "title": p.title,
        "title_link": p.url,
        "text": p.description,
        "service_name": p.site,
    });
    if let Some(key) = &p.image_key {
        value["image_url"] = json!(format!("{}/icons/{key}", state.config.public_url));
    } else if let Some(url) = &p.image_url {
        value["image_url"] = json!(url);
    }
    value
}

/// One emoji's reactions in Slack's shape: `{name, users, count}`.
pub fn reaction(group: &Group) -> Value {
    json!({
        "name": group.name,
        "users": group.user_ids.iter().map(|u| ids::user_id(*u)).collect::<Vec<_>>(),
        "count": group.user_ids.len(),
    })
}

pub fn user(base: &str, u: &ApiUser) -> Value {
    json!({
        "id": ids::user_id(u.id),
        "team_id": ids::team_id(u.workspace_id),
        "name": u.username,
        "real_name": u.display_name,
        "deleted": u.deleted,
        "is_bot": u.is_bot,
        "is_app_user": false,
        "tz": if u.profile.time_zone.is_empty() { "UTC" } else { &u.profile.time_zone },
        "profile": profile(base, &u.display_name, None, &u.profile),
    })
}

/// Slack's `profile` object: the same for `users.info`, `users.list` and `users.profile.*`
/// (the email only for the person themselves). `base` is the server's public URL, for the
/// picture's `image_*` (one square, served at every size Slack names).
pub fn profile(
    base: &str,
    name: &str,
    email: Option<&str>,
    p: &crate::auth::profile::Profile,
) -> Value {
    let mut profile = json!({
        "display_name": name,
        "real_name": name,
        "title": p.title,
        "status_emoji": p.status_emoji,
        "status_text": p.status_text,
        "status_expiration": p.status_expiration,
    });
    if let Some(email) = email {
        profile["email"] = json!(email);
    }
    if let Some(key) = &p.avatar_key {
        let url = format!("{base}{}", crate::auth::avatar::url(key));
        for size in ["24", "32", "48", "72", "192", "512", "original"] {
            profile[format!("image_{size}")] = json!(url);
        }
        profile["avatar_hash"] = json!(key.split(['-', '.']).nth(1).unwrap_or_default());
    }
    profile
}

/// Cursors are opaque to clients: `<what>:<number>`, base16 so nothing needs escaping.
pub fn cursor(what: &str, n: i64) -> String {
    format!("{what}:{n}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn read_cursor(what: &str, params: &Params) -> Result<Option<i64>, ApiError> {
    let Some(text) = params.str("cursor") else {
        return Ok(None);
    };
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let decoded = bytes
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(ApiError("invalid_cursor"))?;
    let (kind, n) = decoded.split_once(':').ok_or(ApiError("invalid_cursor"))?;
    if kind != what {
        return Err(ApiError("invalid_cursor"));
    }
    n.parse().map(Some).map_err(|_| ApiError("invalid_cursor"))
}

pub fn limit(params: &Params, default: i64, max: i64) -> i64 {
    params
        .int("limit")
        .filter(|l| *l > 0)
        .unwrap_or(default)
        .min(max)
}
