-- Two-factor authentication: a TOTP secret per person (RFC 6238; `enabled_at` is null while it
-- is being set up), the last time step a code was accepted for (so no code works twice), and
-- ten single-use recovery codes stored as SHA-256 hashes. A workspace may require it of its
-- members.
create table user_totp (
    user_id bigint primary key references users (id) on delete cascade,
    secret bytea not null,
    enabled_at timestamptz,
    last_used_step bigint,
    created_at timestamptz not null default now()
);

create table recovery_codes (
    user_id bigint not null references users (id) on delete cascade,
    code_hash text not null,
    used_at timestamptz,
    primary key (user_id, code_hash)
);

alter table workspaces add column require_two_factor boolean not null default false;
