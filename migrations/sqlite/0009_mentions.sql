-- Who each message mentions (`@name` as the message's formatting shows it: a whole
-- name, not in code), recorded when the message is stored and rewritten when it is
-- edited, so the chat list asks an index whether an unread mention exists instead of
-- re-reading and re-parsing every unread message (issue 29). Only members of the chat
-- other than the sender are recorded; a deleted message's rows go with its text.
--
-- Keyed by the message's (chat_id, seq), not its id: the read pointer is a seq. The
-- primary key serves edits, deletes and the cascade from `messages`; `mentions_user`
-- serves the chat list ("a row of mine in this chat past my read pointer?": one index
-- search, whatever the unread count).
CREATE TABLE mentions (
    chat_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (chat_id, seq, user_id),
    FOREIGN KEY (chat_id, seq) REFERENCES messages(chat_id, seq) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX mentions_user ON mentions(user_id, chat_id, seq);

-- One-time passes that SQL cannot do, run in Rust at start (`Store::open`) and then
-- deleted. 'mentions': SQL cannot tell `@bob` in code, or in "@bobby", from a mention;
-- only the Markdown parser (`markup::mentions`) can, so the existing messages are
-- parsed once by the server rather than approximated here.
CREATE TABLE pending_backfills (name TEXT PRIMARY KEY);
INSERT INTO pending_backfills (name) VALUES ('mentions');
