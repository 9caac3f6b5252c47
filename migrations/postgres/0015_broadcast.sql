-- Issue 34, `@all` / `@here`: see migrations/sqlite/0017_broadcast.sql.
ALTER TABLE chats ADD COLUMN anyone_mentions_all BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE chats ADD COLUMN broadcast_at BIGINT;
