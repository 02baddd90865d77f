-- Analytics rollups: call counts per local day and per local month, kept current by every save of a
-- call (same transaction) and rebuilt by adapters.builtin.rollups.rebuild. `span` is 'd' (key is a
-- local day, YYYY-MM-DD) or 'm' (key is a month, YYYY-MM): a year's report reads its whole months
-- and the odd days at its ends. Keys are never NULL ('' stands for "none") so ON CONFLICT matches.
-- Applied (idempotently) when the store opens.
CREATE TABLE IF NOT EXISTS rollup_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    zone        TEXT NOT NULL,             -- the time zone the days were counted in
    built_at    TEXT NOT NULL
);

-- Summary, tracking numbers, reasons, the daily chart: no employee.
CREATE TABLE IF NOT EXISTS rollup_lines (
    span        TEXT NOT NULL,
    day         TEXT NOT NULL,
    pbx         TEXT NOT NULL,
    direction   TEXT NOT NULL,
    did         TEXT NOT NULL,
    disposition TEXT NOT NULL,
    reason      TEXT NOT NULL,
    calls       INTEGER NOT NULL,
    PRIMARY KEY (span, day, pbx, direction, did, disposition, reason)
);

-- Employee results: the line only where a report needs it (inbound answered: "on tracking numbers").
CREATE TABLE IF NOT EXISTS rollup_employees (
    span        TEXT NOT NULL,
    day         TEXT NOT NULL,
    pbx         TEXT NOT NULL,
    employee    TEXT NOT NULL,
    direction   TEXT NOT NULL,
    disposition TEXT NOT NULL,
    did         TEXT NOT NULL,
    calls       INTEGER NOT NULL,
    talk_ms     INTEGER NOT NULL,
    PRIMARY KEY (span, day, pbx, employee, direction, disposition, did)
);

-- Missed inbound calls per extension they rang (or were transferred to): each could have answered.
CREATE TABLE IF NOT EXISTS rollup_missed (
    span        TEXT NOT NULL,
    day         TEXT NOT NULL,
    pbx         TEXT NOT NULL,
    extension   TEXT NOT NULL,
    calls       INTEGER NOT NULL,
    PRIMARY KEY (span, day, pbx, extension)
);

-- Unique callers, which no per-day counter can add up: for each set of lines ("scope": one
-- tracking number, all of them, a campaign's numbers) each caller's distinct local days are
-- counted as (day, the caller's previous day on that scope). A caller is new in period a..b on
-- its first day there, i.e. a day in a..b whose previous day is before a, so
--   unique callers = SUM(calls) WHERE day_no BETWEEN a AND b AND prev_no < a.
-- Days are date ordinals (prev_no 0: no earlier day). Rows grow with days², never with calls.
CREATE TABLE IF NOT EXISTS rollup_scopes (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE       -- its numbers, sorted, comma-separated
);
CREATE TABLE IF NOT EXISTS rollup_scope_numbers (
    scope_id    INTEGER NOT NULL REFERENCES rollup_scopes(id) ON DELETE CASCADE,
    number      TEXT NOT NULL,             -- E.164 with '+', as tracking_numbers.number
    PRIMARY KEY (number, scope_id)
);
CREATE TABLE IF NOT EXISTS rollup_callers (
    scope_id    INTEGER NOT NULL REFERENCES rollup_scopes(id) ON DELETE CASCADE,
    day_no      INTEGER NOT NULL,
    prev_no     INTEGER NOT NULL,
    calls       INTEGER NOT NULL,
    PRIMARY KEY (scope_id, day_no, prev_no)
);
