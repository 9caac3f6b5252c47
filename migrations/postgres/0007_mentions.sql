-- Who each message mentions, recorded when it is stored (see
-- migrations/sqlite/0009_mentions.sql for the why and the keys).
CREATE TABLE mentions (
    chat_id BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (chat_id, seq, user_id),
    FOREIGN KEY (chat_id, seq) REFERENCES messages(chat_id, seq) ON DELETE CASCADE
);
CREATE INDEX mentions_user ON mentions(user_id, chat_id, seq);

-- One-time passes run in Rust at start (see migrations/sqlite/0009_mentions.sql).
CREATE TABLE pending_backfills (name TEXT PRIMARY KEY);
INSERT INTO pending_backfills (name) VALUES ('mentions');
