-- What imports brought in, by the source's id: people (and the bots and strangers messages
-- name), and each conversation once it is fully imported. A second run of the same export
-- finds them here and imports nothing twice.
create table import_map (
    workspace_id bigint not null references workspaces (id) on delete cascade,
    kind text not null check (kind in ('user', 'bot', 'conversation')),
    slack_id text not null,
    natter_id bigint not null,
    imported_at timestamptz not null default now(),
    primary key (workspace_id, kind, slack_id)
);
