-- Files and link previews (DESIGN.md §13).

-- A file's metadata; its bytes live in storage (a directory or S3) under `storage_key`, a random
-- name that says nothing about the file. A row starts `pending` before any byte is written and
-- becomes `ready` only after the bytes are stored, so no message can point at missing bytes:
-- a crash in between leaves a pending row and perhaps an object, which `natter files gc`
-- removes. `deleted` files are gone for everyone at once; their bytes go after a grace period.
create table files (
    -- Slack-shaped (`F` and 20 random characters): unguessable, and checked on every download.
    id text primary key,
    workspace_id bigint not null references workspaces (id) on delete cascade,
    user_id bigint not null references users (id),
    -- As given (checked: no path, no control characters, at most 255 characters).
    name text not null,
    title text not null,
    -- Decided by the server from the bytes and the name, never taken from the client.
    mimetype text not null default 'application/octet-stream',
    size bigint not null default 0,
    storage_key text not null unique,
    -- A server-made thumbnail of an image (JPEG or PNG, at most 360 px a side), and the image's
    -- size in pixels.
    thumb_key text unique,
    width integer,
    height integer,
    state text not null default 'pending' check (state in ('pending', 'ready', 'deleted')),
    -- Slack's upload flow: the upload URL's secret (SHA-256), the length announced, and when
    -- the URL stops working. Cleared once the bytes are in.
    upload_token_hash text unique,
    declared_size bigint,
    upload_expires_at timestamptz,
    created_at timestamptz not null default now(),
    uploaded_at timestamptz,
    deleted_at timestamptz,
    -- The name's words for search (`report-2026.pdf` finds `report`).
    name_vector tsvector generated always as
        (to_tsvector('simple', regexp_replace(name || ' ' || title, '[._-]+', ' ', 'g'))) stored
);
create index files_workspace_idx on files (workspace_id, created_at desc) where state = 'ready';
-- A quota's check sums a workspace's sizes from this index alone.
create index files_usage_idx on files (workspace_id) include (size) where state = 'ready';
create index files_user_idx on files (user_id, created_at desc) where state = 'ready';
create index files_pending_idx on files (created_at) where state <> 'ready';
create index files_name_idx on files using gin (name_vector);

-- Which messages share a file, in order. A file is readable by whoever may read a channel in
-- which a live (not deleted) message shares it.
create table file_shares (
    file_id text not null references files (id) on delete cascade,
    channel_id bigint not null,
    seq bigint not null,
    position smallint not null,
    primary key (channel_id, seq, position),
    foreign key (channel_id, seq) references messages (channel_id, seq) on delete cascade
);
create index file_shares_file_idx on file_shares (file_id);

-- How many files a message shares: most share none, and their reads skip the lookup.
alter table messages add column file_count smallint not null default 0;
create index messages_files_idx on messages (channel_id, seq) where file_count > 0;

-- Link previews: cards attached to a message by the preview worker (Slack's `attachments` with
-- `from_url`), and whether its author turned them off.
alter table messages
    add column previews jsonb,
    add column previews_off boolean not null default false;

-- Messages owed link previews, written by the send statement (a message with a link, its
-- author not having said `unfurl_links: false`, in a workspace that shows previews); the
-- preview worker (`integrations::previews`) claims them.
create table preview_outbox (
    id bigserial primary key,
    channel_id bigint not null,
    seq bigint not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    foreign key (channel_id, seq) references messages (channel_id, seq) on delete cascade
);
create index preview_outbox_due_idx on preview_outbox (next_attempt_at);

-- What a URL's page said when it was last fetched (one fetch per URL per day, whoever posts it).
create table link_previews (
    url text primary key,
    -- null: the page gave nothing to show, or could not be fetched.
    card jsonb,
    fetched_at timestamptz not null default now()
);

-- The workspace's quota for files (null: none) and its switch for link previews.
alter table workspaces
    add column file_quota_mb bigint check (file_quota_mb > 0),
    add column link_previews boolean not null default true;

-- Bots hear `file_shared`.
alter table event_outbox drop constraint event_outbox_event_type_check;
alter table event_outbox add constraint event_outbox_event_type_check
    check (event_type in ('message', 'app_mention', 'reaction_added', 'reaction_removed',
                          'file_shared'));
