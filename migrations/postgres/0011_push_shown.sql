-- Notifications a browser shows now, as far as the server knows (issue 33): one row per
-- (subscription, chat) once its push went out. When the person reads that chat (on any
-- device), the row goes and a "clear" push closes the notification on that browser
-- (only where the platform allows such pushes: see `domain::push`). Rows older than a
-- week go unasked (the person has long seen or dismissed it).
CREATE TABLE push_shown (
    subscription_id BIGINT NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL,
    chat_id         BIGINT NOT NULL,
    message_id      BIGINT NOT NULL,
    shown_at        BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, chat_id)
);
CREATE INDEX push_shown_at ON push_shown(shown_at);
