//! `dnd.info`, `dnd.setSnooze` and `dnd.endSnooze`: do not disturb in Slack's shapes, over the
//! same pause and daily hours as the Preferences page (a snooze is a pause).

use super::{ApiError, ApiResult, Ctx, Params};
use crate::fields;
use crate::notifications::{self, db as notify_db};

/// The schedule's next window (Slack says `1` for both when there is none).
fn schedule_fields(dnd: &notify_db::DndInfo) -> serde_json::Map<String, serde_json::Value> {
    fields! {
        "dnd_enabled" => dnd.next_start.is_some(),
        "next_dnd_start_ts" => dnd.next_start.unwrap_or(1),
        "next_dnd_end_ts" => dnd.next_end.unwrap_or(1),
    }
}

fn snooze_fields(dnd: &notify_db::DndInfo, out: &mut serde_json::Map<String, serde_json::Value>) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    out.insert("snooze_enabled".into(), dnd.snooze_end.is_some().into());
    if let Some(end) = dnd.snooze_end {
        out.insert("snooze_endtime".into(), end.into());
        out.insert("snooze_remaining".into(), (end - now).max(0).into());
        out.insert("snooze_is_indefinite".into(), false.into());
    }
}

/// `dnd.info`: the caller's, or (with `user`) a member's schedule without their snooze.
pub async fn info(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let user_id = super::users::caller_or_member(ctx, params).await?;
    let dnd = notify_db::dnd_info(ctx.db(), user_id).await?;
    let mut out = schedule_fields(&dnd);
    if user_id == ctx.user.id {
        snooze_fields(&dnd, &mut out);
    }
    Ok(out)
}

/// `dnd.setSnooze`: pause for `num_minutes` (1 to 1440).
pub async fn set_snooze(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let minutes = params
        .str("num_minutes")
        .ok_or(ApiError("invalid_arguments"))?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|m| (1..=24 * 60).contains(m))
        .ok_or(ApiError("invalid_arguments"))?;
    pause(ctx, notify_db::Pause::Minutes(minutes)).await
}

/// `dnd.endSnooze`: resume now.
pub async fn end_snooze(ctx: &Ctx<'_>) -> ApiResult {
    pause(ctx, notify_db::Pause::Resume).await
}

async fn pause(ctx: &Ctx<'_>, how: notify_db::Pause) -> ApiResult {
    notify_db::pause(ctx.db(), ctx.user.id, how)
        .await?
        .map_err(|()| ApiError("invalid_arguments"))?;
    notifications::publish_dnd(ctx.state, ctx.user.id).await;
    let dnd = notify_db::dnd_info(ctx.db(), ctx.user.id).await?;
    let mut out = schedule_fields(&dnd);
    snooze_fields(&dnd, &mut out);
    Ok(out)
}
