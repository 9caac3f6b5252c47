-- Full-text search over message bodies: the 'simple' configuration (no stemming, no
-- stop words), as SQLite's FTS5 unicode61 tokenizer does. An expression index, so
-- edits and deletes (body '') keep it in step by themselves.
CREATE INDEX messages_search ON messages USING GIN (to_tsvector('simple', body));
