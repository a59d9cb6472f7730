-- Notifications: levels per person and conversation, do not disturb, Web Push and mail.

-- A person's level in a conversation; null is the conversation's default (DMs and group DMs
-- `all`, channels `mentions`). `mute` is `nothing` that also dims the conversation and shows
-- no bold, only a badge when mentioned. Nothing set the column before this migration, so every
-- stored value is the old default and becomes null.
alter table channel_members drop constraint channel_members_notify_check;
alter table channel_members alter column notify drop not null, alter column notify drop default;
update channel_members set notify = null;
alter table channel_members add constraint channel_members_notify_check
    check (notify in ('all', 'mentions', 'nothing', 'mute'));
-- The send statement asks "does anyone here want every message?" for each channel message.
create index channel_members_notify_all_idx on channel_members (channel_id) where notify = 'all';

-- The person's time zone (an IANA name Postgres knows; null is UTC), do not disturb until a
-- time and a daily schedule in that zone, and whether unread DMs and mentions are mailed.
alter table users
    add column time_zone text,
    add column dnd_until timestamptz,
    add column dnd_start time,
    add column dnd_end time,
    add column email_notify boolean not null default true,
    add column notify_mailed_at timestamptz;

-- When the person's do not disturb ends, if it is on at `at`: the later of a pause and the
-- current window of the schedule (which may run past midnight). Null when it is off.
create function dnd_ends(until timestamptz, start_at time, end_at time, tz text, at timestamptz)
returns timestamptz language sql stable as $$
    select greatest(
        case when until > at then until end,
        (select case
                    when start_at < end_at and lt >= start_at and lt < end_at
                        then (ld + end_at) at time zone z
                    when start_at > end_at and lt >= start_at
                        then (ld + 1 + end_at) at time zone z
                    when start_at > end_at and lt < end_at
                        then (ld + end_at) at time zone z
                end
         from (select coalesce(tz, 'UTC') as z) zone
         cross join lateral (select (at at time zone zone.z)::time as lt,
                                    (at at time zone zone.z)::date as ld) local
         where start_at is not null and end_at is not null))
$$;

-- Whether a notification carries the message's text or only "New message from …".
alter table workspaces add column notification_text boolean not null default true;

-- Keys the instance makes once and keeps: the VAPID key pair, the mail links' signing key.
create table instance_keys (
    name text primary key,
    secret bytea not null,
    created_at timestamptz not null default now()
);

-- Messages that may notify someone, written by the send statement and fanned out by a worker
-- on any node (claimed with `for update skip locked`).
create table notify_outbox (
    id bigserial primary key,
    channel_id bigint not null,
    seq bigint not null,
    created_at timestamptz not null default now()
);

-- A browser's PushSubscription: its endpoint on the push service and the keys to encrypt for.
create table push_subscriptions (
    id bigserial primary key,
    user_id bigint not null references users (id) on delete cascade,
    endpoint text not null,
    p256dh bytea not null,
    auth bytea not null,
    user_agent text,
    created_at timestamptz not null default now(),
    last_pushed_at timestamptz
);
create unique index push_subscriptions_endpoint_key on push_subscriptions (endpoint);
create index push_subscriptions_user_idx on push_subscriptions (user_id);

-- One push to one device, retried with backoff until the push service takes it.
create table push_deliveries (
    id bigserial primary key,
    subscription_id bigint not null references push_subscriptions (id) on delete cascade,
    payload jsonb not null,
    urgency text not null default 'normal',
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    created_at timestamptz not null default now()
);
create index push_deliveries_due_idx on push_deliveries (next_attempt_at);
create index push_deliveries_subscription_idx on push_deliveries (subscription_id);

-- Unread DMs and mentions waiting to be mailed. A person's items go in one mail when the first
-- is due (`due_at`: the delay after it was queued, and no sooner than the delay after their last
-- mail), with every item still unread then.
create table mail_items (
    user_id bigint not null references users (id) on delete cascade,
    channel_id bigint not null,
    seq bigint not null,
    due_at timestamptz not null,
    attempts integer not null default 0,
    primary key (user_id, channel_id, seq),
    foreign key (channel_id, seq) references messages (channel_id, seq) on delete cascade
);
create index mail_items_due_idx on mail_items (due_at);
