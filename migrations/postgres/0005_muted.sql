-- A member's mute of a chat (see migrations/sqlite/0007_muted.sql).
ALTER TABLE chat_members ADD COLUMN muted BOOLEAN NOT NULL DEFAULT false;
