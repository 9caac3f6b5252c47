-- Web Push (issue 33): subscriptions, the server's VAPID key, and the durable queue.
--
-- A subscription belongs to the session that made it: signing out (or the session's
-- expiry, or the account's deletion) removes it with the session.
CREATE TABLE push_subscriptions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_hash BLOB NOT NULL REFERENCES sessions(token_hash) ON DELETE CASCADE,
    endpoint     TEXT NOT NULL UNIQUE,
    p256dh       BLOB NOT NULL,
    auth         BLOB NOT NULL,
    -- What /account shows: "Chrome on Linux", from the User-Agent at subscription.
    device       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);
CREATE INDEX push_subscriptions_session ON push_subscriptions(session_hash);

-- One row: the server's VAPID key pair (RFC 8292), made by the first node that starts
-- (INSERT OR IGNORE: every node of a cluster then reads the same one).
CREATE TABLE push_vapid (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    private_key BLOB NOT NULL,
    public_key  BLOB NOT NULL
);

-- Pushes to send: one row per (subscription, chat) at most while unsent (a newer one
-- for the same chat replaces the payload: the browser would replace the notification
-- anyway). Claimed by one node at a time (`claimed_until`); deleted once the push
-- service took it, or the subscription is gone; retried with back-off otherwise.
CREATE TABLE push_queue (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id INTEGER NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL,
    chat_id         INTEGER NOT NULL,
    -- The newest message it tells of: a push whose message was deleted (or whose
    -- person muted or left the chat) by the time it goes is dropped.
    message_id      INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    -- Bumped when a newer push replaces the payload: a sender deletes the row only if
    -- it sent the version it read, else the newer one goes out next.
    version         INTEGER NOT NULL DEFAULT 0,
    due_at          INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (subscription_id, chat_id)
);
CREATE INDEX push_queue_due ON push_queue(due_at);

-- Messages up to this id have been planned into pushes (the planner reads the messages
-- table as its log: nothing is added to the commit).
CREATE TABLE push_planned (upto INTEGER NOT NULL);
INSERT INTO push_planned (upto) SELECT COALESCE(MAX(id), 0) FROM messages;

-- Private previews: pushes say only "New message".
ALTER TABLE users ADD COLUMN push_previews INTEGER NOT NULL DEFAULT 1;
