-- A channel's name is unique among the workspace's public channels only. A private channel's
-- name is unique among the channels its creator can see (checked by the application), so
-- "that name is taken" never reveals a private channel to someone outside it.
alter table channels drop constraint channels_name_key;
create unique index channels_public_name_key on channels (workspace_id, name) where kind = 'public';
create index channels_name on channels (workspace_id, name) where name is not null;
