-- Icons integrations name with `icon_url`, fetched once by the server through the outbound
-- client and served from Natter, so readers' browsers never fetch a URL a sender chose.
create table remote_icons (
    id bigserial primary key,
    url text not null unique,
    -- What /icons/<key> names it by: random, so an icon is reached only from a message that
    -- shows it, never by counting ids.
    key text not null unique default replace(gen_random_uuid()::text, '-', ''),
    -- Set once fetched and recognised as PNG, JPEG, GIF or WebP; null while waiting or refused.
    content_type text,
    bytes bytea,
    fetched_at timestamptz,
    -- When the last attempt failed or was refused; retried after an hour.
    failed_at timestamptz,
    created_at timestamptz not null default now()
);
