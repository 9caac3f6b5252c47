-- Issue 34, the instance: administrators, deactivated accounts, the sign-up mode,
-- invitation links, one-time password reset links, and the audit log.

ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
-- A deactivated person cannot sign in; their sessions went when this was set; their
-- messages stay. NULL: active.
ALTER TABLE users ADD COLUMN deactivated_at INTEGER;

-- One value per name: 'signup_mode' (open | invite | closed), written at the first start
-- from --signup and by administrators; 'first_admin' (a user id), written once, by the
-- sign-up that made the first administrator (so that it happens once, even when two
-- sign-ups race on a new database).
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

-- Invitation links (/signup?invite=TOKEN): only the token's SHA-256 is kept.
CREATE TABLE signup_invitations (
    id          INTEGER PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    inviter_id  INTEGER NOT NULL REFERENCES users(id),
    -- NULL: any number of sign-ups until it expires.
    max_uses    INTEGER,
    uses        INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX signup_invitations_expiry ON signup_invitations(expires_at);

-- Who signed up with which invitation ("invited by" on the administration page).
ALTER TABLE users ADD COLUMN invited_by INTEGER REFERENCES users(id);

-- One-time password reset links an administrator hands over (/reset?token=TOKEN): at most
-- one per person (a new one replaces it), hashed like sessions.
CREATE TABLE password_resets (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    created_by INTEGER NOT NULL REFERENCES users(id),
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- Every administrative action: who (NULL: the command line), what, to whom, when.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    actor_id  INTEGER REFERENCES users(id),
    action    TEXT NOT NULL,
    target_id INTEGER REFERENCES users(id),
    detail    TEXT NOT NULL DEFAULT '',
    at        INTEGER NOT NULL
);
