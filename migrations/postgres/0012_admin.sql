-- Issue 34, the instance: see migrations/sqlite/0014_admin.sql.

ALTER TABLE users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;

CREATE TABLE instance_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- An instance from before has had its first account: nobody becomes administrator by
-- signing up there (an existing stranger's account must not either); the operator runs
-- `natter admin grant USERNAME` (the server says so in its log at every start).
INSERT INTO instance_settings (name, value)
SELECT 'first_admin', CAST(MIN(id) AS TEXT) FROM users WHERE deleted_at IS NULL
HAVING COUNT(*) > 0;

CREATE TABLE signup_invitations (
    id          BIGSERIAL PRIMARY KEY,
    token_hash  BYTEA NOT NULL UNIQUE,
    inviter_id  BIGINT NOT NULL REFERENCES users(id),
    max_uses    BIGINT,
    uses        BIGINT NOT NULL DEFAULT 0,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX signup_invitations_expiry ON signup_invitations(expires_at);

ALTER TABLE users ADD COLUMN invited_by BIGINT REFERENCES users(id);

CREATE TABLE password_resets (
    user_id    BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_hash BYTEA NOT NULL UNIQUE,
    created_by BIGINT NOT NULL REFERENCES users(id),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id        BIGSERIAL PRIMARY KEY,
    actor_id  BIGINT REFERENCES users(id),
    action    TEXT NOT NULL,
    target_id BIGINT REFERENCES users(id),
    detail    TEXT NOT NULL DEFAULT '',
    at        BIGINT NOT NULL
);
