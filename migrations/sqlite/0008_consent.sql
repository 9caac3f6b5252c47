-- Consent (issue 29): blocks, who may add me to groups, group invitations, and which
-- memberships I accepted (presence is shown only between accepted members).

-- Who may add me to a group directly: 'anyone', 'shared' (people I share a chat I
-- accepted with), 'nobody'. Anyone else's add becomes an invitation.
ALTER TABLE users ADD COLUMN group_adds TEXT NOT NULL DEFAULT 'shared'
    CHECK (group_adds IN ('anyone', 'shared', 'nobody'));

-- A membership is accepted once its member took part by their own action: created the
-- chat, opened the direct chat themselves, sent a message in it, accepted an
-- invitation, or was added to a group under their own setting. Online state and last seen travel only between accepted members.
ALTER TABLE chat_members ADD COLUMN accepted INTEGER NOT NULL DEFAULT 0;
UPDATE chat_members SET accepted = 1
-- Group memberships from before consent existed were made under the old rule (anyone
-- could add anyone) and keep their presence; a direct chat counts once its member wrote.
WHERE EXISTS (SELECT 1 FROM chats c WHERE c.id = chat_members.chat_id
              AND (c.creator_id = chat_members.user_id OR c.kind = 'group'))
   OR EXISTS (SELECT 1 FROM messages m
              WHERE m.chat_id = chat_members.chat_id AND m.sender_id = chat_members.user_id);

-- blocker blocked blocked: no direct messages either way, no adds, no presence.
CREATE TABLE blocks (
    blocker_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks(blocked_id);

-- An add the invitee's setting did not allow: they are not a member until they accept.
CREATE TABLE group_invitations (
    chat_id    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    inviter_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX group_invitations_user ON group_invitations(user_id);
