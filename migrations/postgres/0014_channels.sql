-- Issue 34, public channels: see migrations/sqlite/0016_channels.sql.
ALTER TABLE chats ADD COLUMN public BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE chats ADD COLUMN description TEXT NOT NULL DEFAULT '';
CREATE INDEX chats_public ON chats(id) WHERE public;
