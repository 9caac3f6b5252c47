-- Issue 34, profiles: a display name (shown instead of the username where set), a
-- short status line, a time zone (IANA name, for the local time on the profile), and
-- the avatar's version (0: none; the pictures are in `avatars`, one row per size).
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_version INTEGER NOT NULL DEFAULT 0;
CREATE TABLE avatars (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    side    INTEGER NOT NULL,
    bytes   BLOB NOT NULL,
    PRIMARY KEY (user_id, side)
);
