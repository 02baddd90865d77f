-- Conversations between employees (manual §2.9 «Беседы»): one-to-one chats, group chats and
-- channels; their members with what each has read; messages with replies, mentions, reactions and
-- the task made from a message. Times are ISO-8601 UTC text. Message ids only grow, so "what is
-- unread" is "ids past the member's last_read_id" and history pages by id.

-- kind: 'direct' (two people, one chat per pair: direct_key "smaller id:larger id"), 'group'
-- (members talk), 'channel' (announcements: its owner and admins post; a public one anyone reads).
CREATE TABLE IF NOT EXISTS chats (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('direct', 'group', 'channel')),
    title           TEXT NOT NULL DEFAULT '',
    public          INTEGER NOT NULL DEFAULT 0,
    owner_id        INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    direct_key      TEXT UNIQUE,
    last_message_id INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);

-- role: 'owner' (made it), 'admin' (may post in a channel and add people), 'member'.
CREATE TABLE IF NOT EXISTS chat_members (
    chat_id      INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    employee_id  INTEGER NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    role         TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    last_read_id INTEGER NOT NULL DEFAULT 0,
    joined_at    TEXT NOT NULL,
    PRIMARY KEY (chat_id, employee_id)
);
CREATE INDEX IF NOT EXISTS chat_members_employee ON chat_members(employee_id);

CREATE TABLE IF NOT EXISTS chat_messages (
    id         INTEGER PRIMARY KEY,
    chat_id    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    author_id  INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    text       TEXT NOT NULL,
    reply_to   INTEGER REFERENCES chat_messages(id) ON DELETE SET NULL,
    task_id    INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    edited_at  TEXT
);
CREATE INDEX IF NOT EXISTS chat_messages_chat ON chat_messages(chat_id, id);
CREATE INDEX IF NOT EXISTS chat_messages_task ON chat_messages(task_id);

-- Who a message @mentions (each notified once, counted apart in the unread badge).
CREATE TABLE IF NOT EXISTS chat_mentions (
    message_id  INTEGER NOT NULL REFERENCES chat_messages(id) ON DELETE CASCADE,
    employee_id INTEGER NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, employee_id)
);
CREATE INDEX IF NOT EXISTS chat_mentions_employee ON chat_mentions(employee_id, message_id);

CREATE TABLE IF NOT EXISTS chat_reactions (
    message_id  INTEGER NOT NULL REFERENCES chat_messages(id) ON DELETE CASCADE,
    employee_id INTEGER NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    emoji       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (message_id, employee_id, emoji)
);
