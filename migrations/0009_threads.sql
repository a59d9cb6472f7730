-- Threads, reactions, pins, saved messages and mentions of many (DESIGN.md §12).

-- A reply is a message of its channel's log (its own gapless seq) with `thread_root_seq`;
-- Slack nests one level, so a root is never itself a reply.
alter table messages
    -- "Also send to #channel": the reply shows in the channel and counts as unread there.
    add column reply_broadcast boolean not null default false,
    -- The running count of messages the channel view shows (top-level and broadcast replies)
    -- up to and including this one. A reader's unread count is the channel's `shown_total`
    -- minus the `shown_count` of where they read to: two stored numbers, no rows counted.
    add column shown_count bigint not null default 0,
    -- A reply's place in its thread (1, 2, …); a follower's unread replies are the thread's
    -- `reply_total` minus the index they read to.
    add column reply_index integer,
    -- @channel, @everyone or @here in the text: the first two mention every member (counted at
    -- read time from the partial index below: such messages are rare), @here those online when
    -- it was sent (as `mentions` rows).
    add column mention_all text check (mention_all in ('here', 'channel', 'everyone')),
    add constraint messages_thread_root_fk foreign key (channel_id, thread_root_seq)
        references messages (channel_id, seq);

update messages set shown_count = seq;

-- A root's summary, kept beside it rather than on its row: each reply changes it, and a small
-- row updates in place, where a new version of the message would also write every index of
-- `messages` (its text's GIN entry among them). Replies ever sent (numbers them), live replies
-- (what "N replies" says), the repliers in order of first reply, and the newest reply.
create table threads (
    channel_id bigint not null,
    root_seq bigint not null,
    reply_total integer not null default 0,
    reply_count integer not null default 0,
    reply_users bigint[] not null default '{}',
    latest_reply_seq bigint,
    latest_reply_at timestamptz,
    primary key (channel_id, root_seq),
    foreign key (channel_id, root_seq) references messages (channel_id, seq) on delete cascade
);

create index messages_thread_idx on messages (channel_id, thread_root_seq, seq)
    where thread_root_seq is not null;
create index messages_mention_all_idx on messages (channel_id, seq)
    where mention_all in ('channel', 'everyone');

-- What the channel view shows: how many (see `shown_count`) and the newest one's seq.
alter table channels add column shown_total bigint not null default 0,
    add column last_shown_seq bigint not null default 0;
update channels set shown_total = last_seq, last_shown_seq = last_seq;

-- Where the reader's channel view is read to, as a `shown_count` (see above).
alter table channel_members add column read_shown bigint not null default 0;
update channel_members set read_shown = last_read_seq;

-- A mention inside a thread reply (not broadcast) counts in the Threads view, not the
-- channel's badge.
alter table mentions add column thread_root_seq bigint;

-- The threads a person follows: started (once it has replies), replied in, mentioned in, or
-- followed by hand; `following = false` keeps an unfollow from being undone by the next reply.
create table thread_follows (
    user_id bigint not null references users (id) on delete cascade,
    channel_id bigint not null,
    root_seq bigint not null,
    following boolean not null default true,
    -- The `reply_index` read to.
    read_index integer not null default 0,
    updated_at timestamptz not null default now(),
    primary key (user_id, channel_id, root_seq),
    foreign key (channel_id, root_seq) references messages (channel_id, seq) on delete cascade
);
create index thread_follows_root_idx on thread_follows (channel_id, root_seq);

-- One reaction per person per emoji (by shortcode) per message: the key enforces it.
create table reactions (
    channel_id bigint not null,
    seq bigint not null,
    name text not null,
    user_id bigint not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    primary key (channel_id, seq, name, user_id),
    foreign key (channel_id, seq) references messages (channel_id, seq) on delete cascade
);
-- A person's "frequently used" emoji.
create index reactions_user_idx on reactions (user_id, created_at desc);

create table pins (
    channel_id bigint not null,
    seq bigint not null,
    pinned_by bigint not null references users (id),
    pinned_at timestamptz not null default now(),
    primary key (channel_id, seq),
    foreign key (channel_id, seq) references messages (channel_id, seq) on delete cascade
);

create table saved_messages (
    user_id bigint not null references users (id) on delete cascade,
    channel_id bigint not null,
    seq bigint not null,
    saved_at timestamptz not null default now(),
    primary key (user_id, channel_id, seq),
    foreign key (channel_id, seq) references messages (channel_id, seq) on delete cascade
);

-- In channels with more members than this, only owners and admins may use @channel, @everyone
-- and @here; null lets everyone.
alter table workspaces add column mention_all_limit integer check (mention_all_limit > 0);

-- Bots hear of reactions as they hear of messages: a row per (bot, reaction change), written in
-- the change's own statement.
alter table event_outbox drop constraint event_outbox_event_type_check;
alter table event_outbox add constraint event_outbox_event_type_check
    check (event_type in ('message', 'app_mention', 'reaction_added', 'reaction_removed'));
alter table event_outbox add column reaction text, add column actor_id bigint;
