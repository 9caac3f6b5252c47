-- "Last seen" for presence: set when a user's last live connection closes.
ALTER TABLE users ADD COLUMN last_seen_at INTEGER;
