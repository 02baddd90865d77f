-- Auto-dial lists ("обзвоны", manual 2.4) of the built-in CRM. Created by
-- adapters.builtin.dialer_store.ensure_schema when the store opens.

-- A list: one employee's phone rings, then each client in turn, with a wrap-up pause between.
-- state: created → running ⇄ paused → done; archived from any state but running.
CREATE TABLE IF NOT EXISTS dial_lists (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'created'
                   CHECK (state IN ('created', 'running', 'paused', 'done', 'archived')),
    employee_id    INTEGER REFERENCES employees(id) ON DELETE SET NULL, -- the one who dials
    author_id      INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    pause_seconds  INTEGER,                    -- wrap-up pause; NULL: «∞», the employee presses «Дальше»
    retry_minutes  INTEGER NOT NULL DEFAULT 30,
    max_attempts   INTEGER NOT NULL DEFAULT 2,
    hold           INTEGER NOT NULL DEFAULT 0, -- 1: waiting for «Дальше»
    next_at        TEXT,                       -- the wrap-up pause ends
    streak         INTEGER NOT NULL DEFAULT 0, -- no-answers in a row
    reason         TEXT NOT NULL DEFAULT '',   -- why the dialer paused or waits
    source         TEXT NOT NULL DEFAULT '{}', -- JSON: the filter, file or column the numbers came from
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    finished_at    TEXT
);
CREATE INDEX IF NOT EXISTS dial_lists_state ON dial_lists(state);

-- One number of a list. status: pending → dialing → answered / no_answer / busy / failed, or
-- skipped; a no_answer with attempts left (retry_at set) is dialled again from retry_at.
-- A number is claimed (→ dialing, with the call id it will get) in one transaction before the
-- PBX is asked, so it is never dialled twice by accident.
CREATE TABLE IF NOT EXISTS dial_entries (
    id          INTEGER PRIMARY KEY,
    list_id     INTEGER NOT NULL REFERENCES dial_lists(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    phone       TEXT NOT NULL,
    client_id   INTEGER REFERENCES clients(id) ON DELETE SET NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'dialing', 'answered', 'no_answer', 'busy', 'failed', 'skipped')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    retry_at    TEXT,
    call_id     TEXT,                          -- the last call (calls.id, the originate's own id)
    dialled_at  TEXT,
    ended_at    TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL,
    UNIQUE (list_id, phone)
);
CREATE INDEX IF NOT EXISTS dial_entries_next ON dial_entries(list_id, status, position);

-- Every call placed for an entry, linked to its call record by id.
CREATE TABLE IF NOT EXISTS dial_attempts (
    call_id     TEXT PRIMARY KEY,
    entry_id    INTEGER NOT NULL REFERENCES dial_entries(id) ON DELETE CASCADE,
    started_at  TEXT NOT NULL,
    result      TEXT
);
CREATE INDEX IF NOT EXISTS dial_attempts_entry ON dial_attempts(entry_id);
