-- Personal (and later bot) tokens for `Authorization: Bearer`. Only a SHA-256 of the token
-- is stored; the token itself is shown once, when it is made.
create table api_tokens (
    id bigserial primary key,
    user_id bigint not null references users (id) on delete cascade,
    token_hash text not null unique,
    kind text not null default 'personal' check (kind in ('personal', 'bot')),
    name text not null default '',
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
create index api_tokens_user_idx on api_tokens (user_id);
