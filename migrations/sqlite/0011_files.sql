-- Files shared in chats (issue 32). A row is made before the first byte is stored and
-- moves through three states, so storage and database agree after any crash:
--   0 uploading: the object may be partly written (a kill -9 leaves it so);
--   1 stored:    the object (and its thumbnail, if `thumb`) is whole;
--   2 doomed:    its message was deleted, or it was never sent: the sweeper deletes the
--                objects, then the row (`Store::doomed_files`, `domain::files`).
-- A stored file belongs to no message until the message that names it is stored
-- (`message_id`); one left unsent is doomed after a while. Objects are keyed by the id
-- (`f/ID`, `t/ID`): ids are not secrets, every fetch checks membership of `chat_id`.
CREATE TABLE files (
    -- AUTOINCREMENT: an id is never reused, so nothing stale (a cached copy, a late
    -- upload) can ever stand for another file.
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id     INTEGER NOT NULL,
    uploader_id INTEGER NOT NULL,
    message_id  INTEGER,
    state       INTEGER NOT NULL DEFAULT 0,
    name        TEXT NOT NULL,
    size        INTEGER NOT NULL DEFAULT 0,
    mime        TEXT NOT NULL DEFAULT 'application/octet-stream',
    width       INTEGER,
    height      INTEGER,
    thumb       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
-- A message's files (pages, live frames, by the chat's message id range); a chat's
-- shared files newest first (the Files panel); what the sweeper has to do (unsent,
-- doomed); a user's storage (the quota, summed from the index alone).
CREATE INDEX files_message ON files(chat_id, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX files_chat ON files(chat_id, id) WHERE message_id IS NOT NULL AND state = 1;
CREATE INDEX files_unsent ON files(created_at) WHERE message_id IS NULL;
CREATE INDEX files_doomed ON files(id) WHERE state = 2;
CREATE INDEX files_uploader ON files(uploader_id, state, size);

-- A chat deleted (its last member left): its stored files go too. An upload still
-- streaming is left alone (the sweeper must never remove a row under it): it ends
-- unsent, and goes with the unsent ones a day later.
CREATE TRIGGER files_chat_deleted AFTER DELETE ON chats
BEGIN
    UPDATE files SET state = 2 WHERE chat_id = old.id AND state = 1;
END;
