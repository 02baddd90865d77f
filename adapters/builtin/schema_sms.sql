-- SMS of the built-in CRM: single messages from the card, mailings, the opt-out list and the
-- missed-call SMS log. Created by adapters.builtin.sms_store.ensure_schema when the store opens.

-- A mailing: one text to many clients at a time, paused, resumed or cancelled by a manager.
CREATE TABLE IF NOT EXISTS sms_mailings (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    text          TEXT NOT NULL,
    sender        TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT 'active'
                  CHECK (state IN ('active', 'paused', 'cancelled', 'done')),
    scheduled_at  TEXT NOT NULL,             -- nothing goes out before this time
    audience      TEXT NOT NULL DEFAULT '{}', -- JSON: the list or the filter the recipients came from
    recipients    INTEGER NOT NULL DEFAULT 0,
    segments      INTEGER NOT NULL DEFAULT 0, -- SMS per recipient
    estimate      REAL,                       -- the cost estimated before sending
    reason        TEXT NOT NULL DEFAULT '',   -- why the sender paused it (e.g. no money left)
    author_id     INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX IF NOT EXISTS sms_mailings_state ON sms_mailings(state, scheduled_at);

-- One SMS to one number. Its id is also the message id the provider is given (SMSC.ru `id`),
-- so a request whose answer was lost is settled by asking that id's status, never by resending.
-- status: queued → sending → sent → delivered/read/failed/expired; or skipped.
CREATE TABLE IF NOT EXISTS sms_messages (
    id            INTEGER PRIMARY KEY,
    client_id     INTEGER REFERENCES clients(id) ON DELETE SET NULL,
    mailing_id    INTEGER REFERENCES sms_mailings(id) ON DELETE CASCADE,
    phone         TEXT NOT NULL,
    text          TEXT NOT NULL,
    sender        TEXT NOT NULL DEFAULT '',
    origin        TEXT NOT NULL DEFAULT 'card' CHECK (origin IN ('card', 'mailing', 'missed-call')),
    status        TEXT NOT NULL DEFAULT 'queued',
    detail        TEXT NOT NULL DEFAULT '',   -- the provider's words, or why it failed
    segments      INTEGER NOT NULL DEFAULT 0,
    cost          REAL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    author_id     INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    due_at        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    sent_at       TEXT,
    check_at      TEXT,                       -- when to ask the provider for its status next
    checks        INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL,
    UNIQUE (mailing_id, phone)                -- nobody gets one mailing twice
);
CREATE INDEX IF NOT EXISTS sms_messages_due ON sms_messages(status, due_at);
CREATE INDEX IF NOT EXISTS sms_messages_check ON sms_messages(status, check_at);
CREATE INDEX IF NOT EXISTS sms_messages_client ON sms_messages(client_id, created_at);
CREATE INDEX IF NOT EXISTS sms_messages_mailing ON sms_messages(mailing_id, status);

-- Numbers that asked not to receive mailings (nor automatic SMS).
CREATE TABLE IF NOT EXISTS sms_optout (
    phone       TEXT PRIMARY KEY,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

-- The missed-call SMS: at most one per number per (company-local) day.
CREATE TABLE IF NOT EXISTS sms_missed (
    phone       TEXT NOT NULL,
    day         TEXT NOT NULL,
    message_id  INTEGER REFERENCES sms_messages(id) ON DELETE SET NULL,
    PRIMARY KEY (phone, day)
);
