-- Files shared in chats (see migrations/sqlite/0011_files.sql for the states and keys).
CREATE TABLE files (
    id          BIGSERIAL PRIMARY KEY,
    chat_id     BIGINT NOT NULL,
    uploader_id BIGINT NOT NULL,
    message_id  BIGINT,
    state       BIGINT NOT NULL DEFAULT 0,
    name        TEXT NOT NULL,
    size        BIGINT NOT NULL DEFAULT 0,
    mime        TEXT NOT NULL DEFAULT 'application/octet-stream',
    width       BIGINT,
    height      BIGINT,
    thumb       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX files_message ON files(chat_id, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX files_chat ON files(chat_id, id) WHERE message_id IS NOT NULL AND state = 1;
CREATE INDEX files_unsent ON files(created_at) WHERE message_id IS NULL;
CREATE INDEX files_doomed ON files(id) WHERE state = 2;
CREATE INDEX files_uploader ON files(uploader_id, state, size);

CREATE FUNCTION natter_doom_chat_files() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE files SET state = 2 WHERE chat_id = OLD.id AND state = 1;
    RETURN OLD;
END $$;
CREATE TRIGGER files_chat_deleted AFTER DELETE ON chats
    FOR EACH ROW EXECUTE FUNCTION natter_doom_chat_files();
