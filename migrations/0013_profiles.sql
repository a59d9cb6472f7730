-- A person's profile beyond their name: a title, and a status (an emoji and a line of text)
-- that clears itself at `status_expires_at` (Slack's `status_expiration`). Their time zone is
-- `users.time_zone` (0011).
alter table users
    add column title text not null default '',
    add column status_emoji text not null default '',
    add column status_text text not null default '',
    add column status_expires_at timestamptz;
