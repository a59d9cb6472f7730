-- Administration: SCIM provisioning. A workspace's identity provider holds SCIM tokens
-- (stored hashed); the ids it knows people and groups by are kept beside the membership and
-- the channel it provisioned.

create table scim_tokens (
    id bigserial primary key,
    workspace_id bigint not null references workspaces (id) on delete cascade,
    token_hash text not null unique,
    created_by bigint references users (id),
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
create index scim_tokens_workspace_idx on scim_tokens (workspace_id);

-- The provider's own id for a member of this workspace (`externalId`).
alter table workspace_members add column scim_external_id text;

-- A SCIM Group is a private channel: its `displayName` as the provider wrote it (the
-- channel's name is that, normalised), and the provider's `externalId`. Null for channels
-- made in Natter, which SCIM does not manage.
alter table channels add column scim_display_name text;
alter table channels add column scim_external_id text;

-- The provider's `userName` for a member, when it is not their email (Okta and Entra send the
-- email, which is then the account's; other providers may send a login name).
alter table workspace_members add column scim_user_name text;

-- Workspace settings, changed by owners and admins.
alter table workspaces add column channel_creators text not null default 'members'
    check (channel_creators in ('members', 'admins'));
-- People signed in with an email in one of these domains may join without an invite; empty:
-- invite links only.
alter table workspaces add column allowed_domains text[] not null default '{}';
-- Messages older than this many days lose their body (the seq stays, as a tombstone); null
-- keeps everything.
alter table workspaces add column retention_days integer check (retention_days > 0);

-- Instance admins (`natter admin grant`) see every workspace and account at /admin.
alter table users add column is_instance_admin boolean not null default false;
