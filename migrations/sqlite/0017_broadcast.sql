-- Issue 34, `@all` / `@here`: who may notify a whole group (0: its owner and admins;
-- 1: every member), and when the last such mention notified (once per few minutes per
-- chat, milliseconds since the epoch; NULL: never).
ALTER TABLE chats ADD COLUMN anyone_mentions_all INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN broadcast_at INTEGER;
