-- Change numbers: every durable change to a chat other than a new message (an edit, a
-- delete, a read pointer moving, a member added or removed) takes the chat's next
-- change number, in the transaction that makes it. A client that was offline tells the
-- server the change number its copy is current to, and gets the current state of
-- every row changed after it (docs/PROTOCOL.md, "Resume").
ALTER TABLE chats ADD COLUMN last_change INTEGER NOT NULL DEFAULT 0;
-- The change number of the last membership change.
ALTER TABLE chats ADD COLUMN members_change INTEGER NOT NULL DEFAULT 0;
-- The change number of the message's last edit or delete (0: never changed).
ALTER TABLE messages ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_changes ON messages(chat_id, change_seq) WHERE change_seq > 0;
-- The change number of the member's last read pointer move.
ALTER TABLE chat_members ADD COLUMN read_change INTEGER NOT NULL DEFAULT 0;
