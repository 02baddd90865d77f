-- The built-in CRM's tables. Times are ISO-8601 UTC strings ("...Z"), which sort as text.
-- Applied with CREATE ... IF NOT EXISTS on every start; `PRAGMA user_version` marks the layout.
CREATE TABLE IF NOT EXISTS employees (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    extension   TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'employee')),
    token_hash  TEXT NOT NULL UNIQUE,      -- sha256 of the API token: the token itself is never kept
    screen_pop  TEXT NOT NULL DEFAULT 'ring' CHECK (screen_pop IN ('never', 'ring', 'answer')),
    created_at  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS companies (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    inn         TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

-- A client (kind 'client') or a contact card made automatically for a new number (kind 'contact').
CREATE TABLE IF NOT EXISTS clients (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL DEFAULT 'client' CHECK (kind IN ('client', 'contact')),
    name            TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    notes           TEXT NOT NULL DEFAULT '',
    company_id      INTEGER REFERENCES companies(id) ON DELETE SET NULL,
    responsible_id  INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS clients_company ON clients(company_id);

-- A number belongs to one client at most; E.164 ("+7...") or an internal extension.
CREATE TABLE IF NOT EXISTS phones (
    phone       TEXT PRIMARY KEY,
    client_id   INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS phones_client ON phones(client_id);

CREATE TABLE IF NOT EXISTS spam_numbers (
    phone       TEXT PRIMARY KEY,
    marked_by   INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    marked_at   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS pipelines (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    stages      TEXT NOT NULL               -- JSON list of 1..8 stage names
);

CREATE TABLE IF NOT EXISTS deals (
    id              INTEGER PRIMARY KEY,
    client_id       INTEGER REFERENCES clients(id) ON DELETE CASCADE,
    pipeline_id     INTEGER NOT NULL REFERENCES pipelines(id),
    stage           TEXT NOT NULL,
    title           TEXT NOT NULL,
    value           REAL NOT NULL DEFAULT 0,
    currency        TEXT NOT NULL DEFAULT 'RUB',
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'won', 'lost', 'archive')),
    responsible_id  INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    call_id         TEXT,
    notes           TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    closed_at       TEXT
);
CREATE INDEX IF NOT EXISTS deals_client ON deals(client_id);

CREATE TABLE IF NOT EXISTS calls (
    id              TEXT PRIMARY KEY,      -- the tracker's conversation id
    direction       TEXT NOT NULL,
    phone           TEXT NOT NULL,         -- the client's number (E.164) or the other extension
    client_id       INTEGER REFERENCES clients(id) ON DELETE SET NULL,
    did             TEXT,
    started_at      TEXT NOT NULL,
    answered_at     TEXT,
    ended_at        TEXT NOT NULL,
    disposition     TEXT NOT NULL,
    talk_seconds    REAL NOT NULL DEFAULT 0,
    wait_seconds    REAL NOT NULL DEFAULT 0,
    employee        TEXT,                  -- who answered, else the first extension that rang
    recording       TEXT,
    record          TEXT NOT NULL          -- the whole Call.to_dict() as JSON (legs, transfers ...)
);
CREATE INDEX IF NOT EXISTS calls_started ON calls(started_at);
CREATE INDEX IF NOT EXISTS calls_phone ON calls(phone, started_at);
CREATE INDEX IF NOT EXISTS calls_client ON calls(client_id);

-- Every extension that took part in a call (rang, answered, had a leg): "my calls" for employees.
CREATE TABLE IF NOT EXISTS call_extensions (
    call_id     TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    extension   TEXT NOT NULL,
    PRIMARY KEY (call_id, extension)
);
CREATE INDEX IF NOT EXISTS call_extensions_ext ON call_extensions(extension);

CREATE TABLE IF NOT EXISTS comments (
    id          INTEGER PRIMARY KEY,
    client_id   INTEGER REFERENCES clients(id) ON DELETE CASCADE,
    call_id     TEXT,
    author_id   INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_client ON comments(client_id);

-- Employees @mentioned in a comment (mentions.py): each is told at once and it stays among their
-- alerts until they mark it seen.
CREATE TABLE IF NOT EXISTS comment_mentions (
    comment_id  INTEGER NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
    employee_id INTEGER NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    seen        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (comment_id, employee_id)
);
CREATE INDEX IF NOT EXISTS comment_mentions_unseen ON comment_mentions(employee_id, seen);

CREATE TABLE IF NOT EXISTS tasks (
    id          INTEGER PRIMARY KEY,
    client_id   INTEGER REFERENCES clients(id) ON DELETE CASCADE,
    call_id     TEXT,
    deal_id     INTEGER REFERENCES deals(id) ON DELETE SET NULL,
    title       TEXT NOT NULL,
    assignee_id INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    author_id   INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    deadline    TEXT,
    done        INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_client ON tasks(client_id);

CREATE TABLE IF NOT EXISTS reminders (
    id          INTEGER PRIMARY KEY,
    client_id   INTEGER REFERENCES clients(id) ON DELETE CASCADE,
    employee_id INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    remind_at   TEXT NOT NULL,
    text        TEXT NOT NULL DEFAULT '',
    done        INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reminders_client ON reminders(client_id);

-- What happened, by whom and when: deals moved and closed, cards edited, tasks done. The client's
-- feed and the company's live feed read it; nothing else writes it.
CREATE TABLE IF NOT EXISTS journal (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('deal', 'change', 'task')),
    client_id   INTEGER REFERENCES clients(id) ON DELETE CASCADE,
    deal_id     INTEGER REFERENCES deals(id) ON DELETE CASCADE,
    employee_id INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    text        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_client ON journal(client_id, at);
CREATE INDEX IF NOT EXISTS journal_deal ON journal(deal_id, at);
CREATE INDEX IF NOT EXISTS journal_at ON journal(at);

-- A client's e-mail addresses besides the first (clients.email).
CREATE TABLE IF NOT EXISTS client_emails (
    client_id   INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    PRIMARY KEY (client_id, email)
);

-- Company-wide settings of the CRM (time zone, call-back tasks for missed calls).
CREATE TABLE IF NOT EXISTS settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS tasks_assignee ON tasks(assignee_id, done, deadline);
CREATE INDEX IF NOT EXISTS reminders_employee ON reminders(employee_id, done, remind_at);

PRAGMA user_version = 1;

-- Employees taking part in a deal besides its responsible (the leader «с короной»); `muted`: no
-- notifications about it (a responsible who mutes a deal has a row too).
CREATE TABLE IF NOT EXISTS deal_participants (
    deal_id     INTEGER NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
    employee_id INTEGER NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    muted       INTEGER NOT NULL DEFAULT 0,
    added_at    TEXT NOT NULL,
    PRIMARY KEY (deal_id, employee_id)
);
CREATE INDEX IF NOT EXISTS deal_participants_employee ON deal_participants(employee_id);
