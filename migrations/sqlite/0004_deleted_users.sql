-- Deleted accounts: the row stays (their messages stay in other people's history, shown
-- as "deleted user #<id>", the username it gets), with no password and no sessions.
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
