-- Tracking numbers, ad campaigns, client lists, imports, and the indexes the reports read through.
-- Applied (idempotently, CREATE ... IF NOT EXISTS) by adapters.builtin.campaigns.ensure_schema.
CREATE TABLE IF NOT EXISTS tracking_numbers (
    number      TEXT PRIMARY KEY,           -- E.164, as the tracker writes calls.did
    name        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

-- Dates are local calendar days (YYYY-MM-DD); no end date means the campaign is still running.
CREATE TABLE IF NOT EXISTS campaigns (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    starts_on   TEXT NOT NULL,
    ends_on     TEXT,
    budget      REAL,
    created_at  TEXT NOT NULL,
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);

CREATE TABLE IF NOT EXISTS campaign_numbers (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    number      TEXT NOT NULL REFERENCES tracking_numbers(number) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, number)
);

CREATE TABLE IF NOT EXISTS client_lists (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS client_list_members (
    list_id     INTEGER NOT NULL REFERENCES client_lists(id) ON DELETE CASCADE,
    client_id   INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    PRIMARY KEY (list_id, client_id)
);
CREATE INDEX IF NOT EXISTS client_list_members_client ON client_list_members(client_id);

CREATE TABLE IF NOT EXISTS imports (
    id          INTEGER PRIMARY KEY,
    filename    TEXT NOT NULL,
    author_id   INTEGER REFERENCES employees(id) ON DELETE SET NULL,
    list_id     INTEGER REFERENCES client_lists(id) ON DELETE SET NULL,
    created     INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    undone_at   TEXT
);

-- Which clients an import made, so undo removes exactly those.
CREATE TABLE IF NOT EXISTS import_clients (
    import_id   INTEGER NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    client_id   INTEGER NOT NULL,
    PRIMARY KEY (import_id, client_id)
);

-- Reports scan a period of calls: these covering indexes answer them without reading the rows
-- (each row carries the whole call record as JSON, which would make table scans slow). Each leads
-- with the columns a report fixes by equality (direction, then line / employee / disposition) and
-- then started_at, so a period is one range per key and most counts need no per-row expression.
-- The first versions led with started_at; drop them so an existing database upgrades in place.
DROP INDEX IF EXISTS calls_period;
DROP INDEX IF EXISTS calls_line;
DROP INDEX IF EXISTS calls_employee;
DROP INDEX IF EXISTS calls_missed;
-- Summary totals: calls of each direction in the period, answered among them.
CREATE INDEX IF NOT EXISTS calls_report_direction ON calls(direction, started_at, disposition);
-- Tracking numbers: inbound calls on each line (lines report, summary count and charts).
CREATE INDEX IF NOT EXISTS calls_report_line
    ON calls(direction, did, started_at, disposition, phone);
-- Employee results: each employee's range of each direction, already in GROUP BY order ...
CREATE INDEX IF NOT EXISTS calls_report_employee
    ON calls(direction, employee, started_at, disposition, talk_seconds);
-- ... answered calls on tracking numbers per employee ...
CREATE INDEX IF NOT EXISTS calls_report_employee_line
    ON calls(direction, disposition, did, employee, started_at);
-- ... and the missed calls alone, to join them to everyone they rang (disposition is in it
-- although the WHERE fixes it: SQLite counts an index as covering only with every column used).
CREATE INDEX IF NOT EXISTS calls_report_missed ON calls(direction, started_at, id, disposition)
    WHERE direction = 'inbound' AND disposition <> 'answered';
CREATE INDEX IF NOT EXISTS deals_closed ON deals(closed_at, status);
CREATE INDEX IF NOT EXISTS deals_created ON deals(created_at);
CREATE INDEX IF NOT EXISTS clients_created ON clients(created_at, kind);
CREATE INDEX IF NOT EXISTS comments_created ON comments(created_at, author_id);
