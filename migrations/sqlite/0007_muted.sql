-- A member's mute of a chat: no notifications from it (its unread count still shows).
ALTER TABLE chat_members ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
