-- Replies and reactions (see migrations/sqlite/0006_replies_reactions.sql).
ALTER TABLE messages ADD COLUMN reply_to BIGINT;
CREATE TABLE reactions (
    message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    chat_id    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
CREATE INDEX reactions_chat ON reactions(chat_id, message_id);
