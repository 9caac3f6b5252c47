-- Web Push (issue 33): see migrations/sqlite/0012_push.sql.
CREATE TABLE push_subscriptions (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_hash BYTEA NOT NULL REFERENCES sessions(token_hash) ON DELETE CASCADE,
    endpoint     TEXT NOT NULL UNIQUE,
    p256dh       BYTEA NOT NULL,
    auth         BYTEA NOT NULL,
    device       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);
CREATE INDEX push_subscriptions_session ON push_subscriptions(session_hash);

CREATE TABLE push_vapid (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    private_key BYTEA NOT NULL,
    public_key  BYTEA NOT NULL
);

CREATE TABLE push_queue (
    id              BIGSERIAL PRIMARY KEY,
    subscription_id BIGINT NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL,
    chat_id         BIGINT NOT NULL,
    message_id      BIGINT NOT NULL,
    payload         TEXT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 0,
    due_at          BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    UNIQUE (subscription_id, chat_id)
);
CREATE INDEX push_queue_due ON push_queue(due_at);

CREATE TABLE push_planned (upto BIGINT NOT NULL);
INSERT INTO push_planned (upto) SELECT COALESCE(MAX(id), 0) FROM messages;

ALTER TABLE users ADD COLUMN push_previews BOOLEAN NOT NULL DEFAULT true;
