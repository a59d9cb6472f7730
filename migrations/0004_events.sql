-- Outgoing events: a bot's request URL, what it subscribes to, and a durable outbox.

alter table bots add column request_url text;
alter table bots add column url_verified_at timestamptz;
alter table bots add column events text[] not null default '{}';
-- The HMAC key for X-Slack-Signature. Unlike tokens it cannot be kept as a hash: signing needs
-- the key itself. It is shown once, rotated on demand, and never logged.
alter table bots add column signing_secret text not null default '';

-- One row per (bot, message, event type), written in the message's own transaction, so an
-- event exists if and only if its message does. Delivered in id order per (bot, channel).
create table event_outbox (
    id bigserial primary key,
    bot_id bigint not null references bots (id) on delete cascade,
    channel_id bigint not null,
    seq bigint not null,
    event_type text not null check (event_type in ('message', 'app_mention')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_status integer,
    last_error text,
    created_at timestamptz not null default now(),
    delivered_at timestamptz,
    failed_at timestamptz
);
create index event_outbox_due on event_outbox (next_attempt_at)
    where delivered_at is null and failed_at is null;
create index event_outbox_order on event_outbox (bot_id, channel_id, id)
    where delivered_at is null and failed_at is null;
