-- Issue 34, public channels: a group can be public (listed on /channels, anyone on the
-- instance joins and leaves it) and has a description (its topic, in its header).
ALTER TABLE chats ADD COLUMN public INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN description TEXT NOT NULL DEFAULT '';
CREATE INDEX chats_public ON chats(id) WHERE public = 1;
