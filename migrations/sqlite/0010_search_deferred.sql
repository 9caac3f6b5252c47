-- Search at ten million messages (issue 31).
--
-- 1. Prefix indexes of 3 and 4 characters: a query word is the start of words, and
--    FTS5 gathers every word with that start into one list in memory before the first
--    hit; for a common start ("the": the, then, there, they…) that was 370 ms over ten
--    million messages. With the index, a start of 3 or 4 characters is read like a word,
--    newest first, and stops at a page. Longer starts match few words.
-- 2. Indexing leaves the commit: a new message is indexed after it is published (the
--    message committer does it when its queue is empty, and a search first catches up,
--    so one's own message is found the moment it is acknowledged). The insert trigger
--    was ~30% of a burst's commit time. `search_indexed.upto`: every message with an id
--    up to it is in the index; the edit and delete triggers touch only those (the
--    indexer reads a newer message's body as it is when it gets to it).
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content = 'messages', content_rowid = 'id', prefix = '3 4'
);
CREATE TABLE search_indexed (upto INTEGER NOT NULL);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
INSERT INTO search_indexed (upto) SELECT COALESCE(MAX(id), 0) FROM messages;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.id <= (SELECT upto FROM search_indexed) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages
WHEN old.id <= (SELECT upto FROM search_indexed) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
