-- Issue 34, group roles: the owner is `chats.creator_id`; admins manage members and the
-- title beside the owner. When the owner leaves (or deletes the account), ownership
-- passes to the longest-standing admin, else member (Store::remove_member).
ALTER TABLE chat_members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('member', 'admin'));

-- Groups whose creator left before ownership passed on: the longest-standing member
-- owns them now, so every group can be managed again.
UPDATE chats SET creator_id = (
    SELECT m.user_id FROM chat_members m WHERE m.chat_id = chats.id
    ORDER BY m.joined_at, m.user_id LIMIT 1)
WHERE kind = 'group'
  AND NOT EXISTS (SELECT 1 FROM chat_members m
                  WHERE m.chat_id = chats.id AND m.user_id = chats.creator_id);
