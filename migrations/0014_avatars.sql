-- Profile pictures: the server's square copy of what a person uploaded, kept in Postgres like
-- the integrations' icons (a few KiB each, so every node serves them without shared storage).
-- The key changes with every upload, so a picture's URL can be cached for good.
create table avatars (
    key text primary key,
    user_id bigint not null references users (id) on delete cascade,
    content_type text not null,
    bytes bytea not null,
    created_at timestamptz not null default now()
);
create index avatars_user on avatars (user_id);

alter table users add column avatar_key text references avatars (key) on delete set null;
