-- The PostgreSQL burst (issue 31): every stored message ran two foreign-key checks (a
-- query and a row lock each, on its chat and on its sender), a third of a 1 000-message
-- burst (median 38–39 ms with them, 25–26 ms without, alternated; BENCHMARKS.md). What
-- they guarded holds without them: a batch stores a message only after locking its
-- chat's row (FOR UPDATE, so the chat cannot go meanwhile) and finding its sender
-- among the chat's members, and a users row is never deleted (a deleted account keeps
-- its row; its messages stay in others' history). The one thing the chat's key did
-- besides, deleting a deleted chat's messages, this trigger does, in the same
-- statement's transaction. SQLite keeps its keys: there they cost little.
ALTER TABLE messages DROP CONSTRAINT messages_chat_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_sender_id_fkey;
CREATE FUNCTION natter_delete_chat_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM messages WHERE chat_id = OLD.id;
    RETURN OLD;
END $$;
CREATE TRIGGER chats_delete_messages AFTER DELETE ON chats
    FOR EACH ROW EXECUTE FUNCTION natter_delete_chat_messages();
