-- Issue 34, group roles: see migrations/sqlite/0015_group_roles.sql.
ALTER TABLE chat_members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('member', 'admin'));

UPDATE chats SET creator_id = (
    SELECT m.user_id FROM chat_members m WHERE m.chat_id = chats.id
    ORDER BY m.joined_at, m.user_id LIMIT 1)
WHERE kind = 'group'
  AND NOT EXISTS (SELECT 1 FROM chat_members m
                  WHERE m.chat_id = chats.id AND m.user_id = chats.creator_id);
