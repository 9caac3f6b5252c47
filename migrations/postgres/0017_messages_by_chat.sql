-- Issue 31: a chat's messages by id, so that search can walk each of a reader's chats
-- newest first from any page's start (`m.id < before`), a bounded window at a time
-- (src/server/db/search.rs). (chat_id, seq) orders the same rows but cannot be bounded
-- by a message id. SQLite searches through FTS5 and needs no such index.
CREATE INDEX messages_chat_id ON messages (chat_id, id);
