-- Bots, incoming webhooks, and what integrations add to a message.

-- A bot is a user (users.is_bot) owned by one workspace; its tokens live in api_tokens
-- (kind 'bot'). Outgoing events go to request_url, signed with signing_secret.
create table bots (
    id bigserial primary key,
    workspace_id bigint not null references workspaces (id) on delete cascade,
    user_id bigint not null unique references users (id) on delete cascade,
    name text not null,
    created_by bigint references users (id),
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);

-- An incoming webhook posts into one channel. Only a SHA-256 of its token is stored.
create table webhooks (
    id bigserial primary key,
    workspace_id bigint not null references workspaces (id) on delete cascade,
    channel_id bigint not null references channels (id) on delete cascade,
    -- The bot user the webhook's messages are stored under.
    user_id bigint not null references users (id) on delete cascade,
    token_hash text not null unique,
    name text not null default '',
    created_by bigint references users (id),
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);

-- Integrations may show a message under another name and icon than its user's.
alter table messages add column sender_name text;
alter table messages add column sender_icon text;
