-- The core of Natter: people, workspaces, channels and the ordered message log.
-- Every message lives once, in `messages`, keyed by (channel_id, seq): the log is read-time
-- fan-out. The only write-time fan-out is `mentions`, so unread mention counts stay cheap.

create table users (
    id bigserial primary key,
    email text not null,
    username text not null,
    display_name text not null,
    password_hash text not null,
    is_bot boolean not null default false,
    deactivated_at timestamptz,
    created_at timestamptz not null default now(),
    constraint users_username_format check (username ~ '^[a-z0-9._-]{1,32}$')
);
create unique index users_email_key on users (lower(email));
create unique index users_username_key on users (username);

create table workspaces (
    id bigserial primary key,
    slug text not null,
    name text not null,
    created_at timestamptz not null default now(),
    constraint workspaces_slug_key unique (slug),
    constraint workspaces_slug_format check (slug ~ '^[a-z0-9][a-z0-9-]{1,31}$')
);

create table workspace_members (
    workspace_id bigint not null references workspaces (id) on delete cascade,
    user_id bigint not null references users (id) on delete cascade,
    role text not null default 'member' check (role in ('owner', 'admin', 'member', 'guest')),
    deactivated_at timestamptz,
    joined_at timestamptz not null default now(),
    primary key (workspace_id, user_id)
);
create index workspace_members_user_idx on workspace_members (user_id);

create table invites (
    id bigserial primary key,
    token_hash text not null unique,
    workspace_id bigint not null references workspaces (id) on delete cascade,
    role text not null default 'member' check (role in ('admin', 'member', 'guest')),
    created_by bigint not null references users (id),
    expires_at timestamptz not null,
    max_uses integer not null check (max_uses > 0),
    uses integer not null default 0,
    created_at timestamptz not null default now()
);

create table channels (
    id bigserial primary key,
    workspace_id bigint not null references workspaces (id) on delete cascade,
    kind text not null check (kind in ('public', 'private', 'dm', 'group_dm')),
    -- Named channels only; DMs are named after their members when shown.
    name text,
    topic text not null default '',
    -- `#general`: every member of the workspace is in it and cannot leave it.
    is_general boolean not null default false,
    -- The sorted member ids of a DM or group DM, so one set of people has one conversation.
    dm_key text,
    created_by bigint references users (id),
    archived_at timestamptz,
    created_at timestamptz not null default now(),
    -- The seq of the newest message; bumped under the row lock in the send transaction.
    last_seq bigint not null default 0,
    constraint channels_name_key unique (workspace_id, name),
    constraint channels_dm_key unique (workspace_id, dm_key),
    constraint channels_name_format check (name is null or name ~ '^[a-z0-9][a-z0-9_-]{0,79}$'),
    constraint channels_named_kinds check ((kind in ('public', 'private')) = (name is not null)),
    constraint channels_dm_kinds check ((kind in ('dm', 'group_dm')) = (dm_key is not null))
);
create unique index channels_one_general on channels (workspace_id) where is_general;

create table channel_members (
    channel_id bigint not null references channels (id) on delete cascade,
    user_id bigint not null references users (id) on delete cascade,
    last_read_seq bigint not null default 0,
    notify text not null default 'mentions' check (notify in ('all', 'mentions', 'nothing')),
    joined_at timestamptz not null default now(),
    primary key (channel_id, user_id)
);
create index channel_members_user_idx on channel_members (user_id);

create table messages (
    channel_id bigint not null references channels (id) on delete cascade,
    seq bigint not null,
    user_id bigint not null references users (id),
    body text not null,
    client_msg_id text,
    thread_root_seq bigint,
    created_at timestamptz not null default now(),
    edited_at timestamptz,
    -- A tombstone: the row stays so that seqs stay gapless.
    deleted_at timestamptz,
    primary key (channel_id, seq),
    constraint messages_client_msg_id_key unique (channel_id, user_id, client_msg_id)
);

create table mentions (
    user_id bigint not null references users (id) on delete cascade,
    channel_id bigint not null,
    seq bigint not null,
    primary key (user_id, channel_id, seq),
    foreign key (channel_id, seq) references messages (channel_id, seq) on delete cascade
);

-- Failed logins, counted per account and per address over a sliding window.
create table login_failures (
    id bigserial primary key,
    account text not null,
    address text not null,
    at timestamptz not null default now()
);
create index login_failures_account_idx on login_failures (account, at);
create index login_failures_address_idx on login_failures (address, at);

create table audit_log (
    id bigserial primary key,
    workspace_id bigint references workspaces (id) on delete cascade,
    actor_id bigint references users (id),
    action text not null,
    target text not null default '',
    details jsonb not null default '{}',
    at timestamptz not null default now()
);
create index audit_log_workspace_idx on audit_log (workspace_id, at desc);
