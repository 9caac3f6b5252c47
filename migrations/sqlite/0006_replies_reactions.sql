-- Replies: the message a message answers (in the same chat; checked when it is sent).
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
-- Reactions: one row per (message, user, emoji); `chat_id` lets a page of history read
-- its messages' reactions by one index range.
CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    chat_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
CREATE INDEX reactions_chat ON reactions(chat_id, message_id);
