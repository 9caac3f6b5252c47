-- Consent (see migrations/sqlite/0008_consent.sql): blocks, who may add me to groups,
-- group invitations, and which memberships I accepted.

ALTER TABLE users ADD COLUMN group_adds TEXT NOT NULL DEFAULT 'shared'
    CHECK (group_adds IN ('anyone', 'shared', 'nobody'));

ALTER TABLE chat_members ADD COLUMN accepted BOOLEAN NOT NULL DEFAULT false;
UPDATE chat_members SET accepted = true
-- Group memberships from before consent existed were made under the old rule (anyone
-- could add anyone) and keep their presence; a direct chat counts once its member wrote.
WHERE EXISTS (SELECT 1 FROM chats c WHERE c.id = chat_members.chat_id
              AND (c.creator_id = chat_members.user_id OR c.kind = 'group'))
   OR EXISTS (SELECT 1 FROM messages m
              WHERE m.chat_id = chat_members.chat_id AND m.sender_id = chat_members.user_id);

CREATE TABLE blocks (
    blocker_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks(blocked_id);

CREATE TABLE group_invitations (
    chat_id    BIGINT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    inviter_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX group_invitations_user ON group_invitations(user_id);
