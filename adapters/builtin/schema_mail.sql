-- The CRM's mailbox (manual §2.5): connected mailboxes, the letters in and out, their attachments,
-- the outgoing queue and the letter templates. Times of letters are ISO-8601 UTC text; the queue's
-- due times are unix seconds (wall clock: a retry stays due across a restart).

-- A connected mailbox: IMAP for incoming, SMTP for outgoing. The password is stored here only
-- when typed in; `secret_env` / `secret_file` name where it lives instead. The API never returns
-- any of the three's values. `access`: 'common' (everyone reads) or 'personal' (the owner reads
-- the letters that are not with clients of the company).
CREATE TABLE IF NOT EXISTS mailboxes (
    id             INTEGER PRIMARY KEY,
    address        TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    access         TEXT NOT NULL DEFAULT 'common' CHECK (access IN ('common', 'personal')),
    owner_id       INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    login          TEXT NOT NULL,
    secret         TEXT NOT NULL DEFAULT '',
    secret_env     TEXT NOT NULL DEFAULT '',
    secret_file    TEXT NOT NULL DEFAULT '',
    imap_host      TEXT NOT NULL,
    imap_port      INTEGER NOT NULL,
    imap_security  TEXT NOT NULL DEFAULT 'ssl' CHECK (imap_security IN ('ssl', 'starttls', 'none')),
    smtp_host      TEXT NOT NULL,
    smtp_port      INTEGER NOT NULL,
    smtp_security  TEXT NOT NULL DEFAULT 'ssl' CHECK (smtp_security IN ('ssl', 'starttls', 'none')),
    folder         TEXT NOT NULL DEFAULT 'INBOX',
    enabled        INTEGER NOT NULL DEFAULT 1,
    uidvalidity    INTEGER,
    last_uid       INTEGER NOT NULL DEFAULT 0,  -- the highest IMAP UID already fetched
    status         TEXT NOT NULL DEFAULT '',    -- the last fetch's problem, '' when it went well
    checked_at     TEXT,
    created_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS mailboxes_address ON mailboxes(address);

-- A letter, received ('in') or written in the CRM ('out'). `thread` is the Message-ID the
-- conversation started with; `client_id` the client the other side's address belongs to.
CREATE TABLE IF NOT EXISTS mail_messages (
    id           INTEGER PRIMARY KEY,
    mailbox_id   INTEGER REFERENCES mailboxes(id) ON DELETE SET NULL,
    direction    TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    message_id   TEXT NOT NULL,
    thread       TEXT NOT NULL,
    in_reply_to  TEXT NOT NULL DEFAULT '',
    refs         TEXT NOT NULL DEFAULT '',
    from_addr    TEXT NOT NULL DEFAULT '',
    from_name    TEXT NOT NULL DEFAULT '',
    to_addrs     TEXT NOT NULL DEFAULT '',
    cc_addrs     TEXT NOT NULL DEFAULT '',
    subject      TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL DEFAULT '',
    sent_at      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    client_id    INTEGER REFERENCES clients(id) ON DELETE SET NULL,
    employee_id  INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    imap_uid     INTEGER,
    status       TEXT NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'queued', 'sending', 'sent', 'dead'))
);
CREATE UNIQUE INDEX IF NOT EXISTS mail_messages_unique ON mail_messages(mailbox_id, direction, message_id);
CREATE INDEX IF NOT EXISTS mail_messages_client ON mail_messages(client_id, sent_at);
CREATE INDEX IF NOT EXISTS mail_messages_list ON mail_messages(sent_at);
CREATE INDEX IF NOT EXISTS mail_messages_from ON mail_messages(from_addr);
CREATE INDEX IF NOT EXISTS mail_messages_thread ON mail_messages(thread);

-- An attachment of a letter. The bytes live in a file named by their SHA-256 beside the database;
-- `stored` is 0 when the file was over the size limit and only its name and size were kept.
CREATE TABLE IF NOT EXISTS mail_attachments (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES mail_messages(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    ctype       TEXT NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT NOT NULL DEFAULT '',
    stored      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS mail_attachments_message ON mail_attachments(message_id);

-- The outgoing queue: the whole letter as it goes on the wire (7-bit MIME text), its envelope,
-- the state and the attempts. A letter in 'sending' whose lease ran out (the daemon stopped
-- mid-send) is due again; after `max_attempts` failures, or at once on a permanent refusal,
-- it is 'dead' and waits for an employee to send it again.
CREATE TABLE IF NOT EXISTS mail_outgoing (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL UNIQUE REFERENCES mail_messages(id) ON DELETE CASCADE,
    mailbox_id   INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    raw          TEXT NOT NULL,
    mail_from    TEXT NOT NULL,
    recipients   TEXT NOT NULL,                  -- JSON list of addresses
    state        TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    not_before   REAL NOT NULL,
    lease_until  REAL,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   REAL NOT NULL,
    finished_at  REAL
);
CREATE INDEX IF NOT EXISTS mail_outgoing_due ON mail_outgoing(state, not_before);

-- Letter templates: subject and body with the client's fields as {{поле}} placeholders.
CREATE TABLE IF NOT EXISTS mail_templates (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    subject     TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

-- Matching a sender to a client by address, in any case.
CREATE INDEX IF NOT EXISTS clients_email_lower ON clients(lower(email));
CREATE INDEX IF NOT EXISTS client_emails_lower ON client_emails(lower(email));
