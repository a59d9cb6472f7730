-- Search. Postgres full-text search over a stored tsvector (used when no Meilisearch is set),
-- and the transactional outbox that feeds Meilisearch (when one is).

alter table messages add column search_vector tsvector
    generated always as (to_tsvector('english', body)) stored;
create index messages_search_idx on messages using gin (search_vector);

-- One row per send, edit and delete, written in that change's transaction; a worker sends
-- them to the index in batches and deletes them once the index confirms.
create table search_outbox (
    id bigserial primary key,
    channel_id bigint not null,
    seq bigint not null,
    op text not null check (op in ('upsert', 'delete')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    created_at timestamptz not null default now()
);
create index search_outbox_due on search_outbox (next_attempt_at, id);
