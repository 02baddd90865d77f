-- Accounts of the built-in CRM: browser sessions and the audit log. The employees table gains
-- login, password_hash, active and password_changed_at (added by adapters.builtin.accounts so a
-- database made by an older version is upgraded in place).

-- A signed-in browser. Only the SHA-256 of the session id is kept: a copy of the database
-- signs nobody in. Times are unix seconds.
CREATE TABLE IF NOT EXISTS sessions (
    id_hash      TEXT PRIMARY KEY,
    employee_id  INTEGER NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    created_at   REAL NOT NULL,
    last_seen    REAL NOT NULL,
    expires_at   REAL NOT NULL,           -- the absolute end, whatever the activity
    address      TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_employee ON sessions(employee_id, created_at);

-- Who changed what: every change to clients, deals, tasks, employees and settings, and
-- every sign-in, sign-out and password change. Never holds a password or a token.
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor_id    INTEGER,                   -- the employee, or NULL for a service token
    actor       TEXT NOT NULL,             -- the name at that time (or the token's name)
    action      TEXT NOT NULL,             -- create / change / delete / sign-in / ...
    entity      TEXT NOT NULL,             -- clients, deals, tasks, employees, settings, session ...
    entity_id   TEXT,
    detail      TEXT NOT NULL DEFAULT '{}', -- JSON: the fields sent (secrets removed)
    address     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE INDEX IF NOT EXISTS audit_entity ON audit(entity, entity_id);
