-- Single sign-on: which account an OpenID provider's subject (its `iss` and `sub`, stable
-- whatever the person's email becomes) logs in as. Made at the first login through the
-- provider, by a verified email or as a new account.
create table user_identities (
    issuer text not null,
    subject text not null,
    user_id bigint not null references users (id) on delete cascade,
    email text not null,
    created_at timestamptz not null default now(),
    last_login_at timestamptz not null default now(),
    primary key (issuer, subject)
);
create index user_identities_user on user_identities (user_id);
