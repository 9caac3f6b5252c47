-- Issue 34, profiles: see migrations/sqlite/0018_profiles.sql.
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_version BIGINT NOT NULL DEFAULT 0;
CREATE TABLE avatars (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    side    INTEGER NOT NULL,
    bytes   BYTEA NOT NULL,
    PRIMARY KEY (user_id, side)
);
