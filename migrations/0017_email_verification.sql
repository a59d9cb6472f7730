-- Email verification, when mail is configured: a new account's address, and a new address
-- someone changes theirs to (which takes effect only once confirmed), each confirmed by a
-- single-use link stored as its SHA-256. Addresses an identity provider vouched for count as
-- confirmed.
alter table users add column email_verified_at timestamptz;

create table email_verifications (
    token_hash text primary key,
    user_id bigint not null references users (id) on delete cascade,
    email text not null,
    expires_at timestamptz not null,
    used_at timestamptz,
    created_at timestamptz not null default now()
);
create index email_verifications_user on email_verifications (user_id, created_at);
