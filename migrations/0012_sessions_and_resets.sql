-- Each logged-in browser session of a person, so they can see theirs and end any of them, and a
-- password change can end all but the one that made it. The session's own data (in
-- tower_sessions) holds `id`; a session whose row is gone is logged out at its next request.
create table user_sessions (
    id text primary key,
    user_id bigint not null references users (id) on delete cascade,
    user_agent text,
    address text,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now()
);
create index user_sessions_user_idx on user_sessions (user_id);

-- Password reset links: single use, an hour long, stored as the SHA-256 of the token.
create table password_resets (
    token_hash text primary key,
    user_id bigint not null references users (id) on delete cascade,
    expires_at timestamptz not null,
    used_at timestamptz,
    created_at timestamptz not null default now()
);
create index password_resets_user_idx on password_resets (user_id, created_at);
