"""The outbox schema, as numbered migrations (`PRAGMA user_version` says which have run).

Append a new tuple to change the schema; never edit one that has shipped.

- `calls`: the connector's own call journal, one row per finished conversation (`Call.to_dict()`).
- `jobs`: one row per adapter and kind of work, unique by idempotency `key`. A job's `payload` is
  NULL when it is the journal's call. Jobs of one adapter and conversation run in `id` order.
- `adapter_state`: the adapters' durable key → JSON values (OAuth tokens, CRM-side ids).
- `call_linkedids` (v2): every linkedid of a journalled call, so a call recovered from another
  source (MikoPBX's CDR) is recognised whichever of its linkedids that source names.
- `outbox_meta` (v3): the file's random `instance` id, matched against the marker beside it
  (connector/sync/integrity.py), so a lost or swapped file is noticed.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE calls (
            id TEXT PRIMARY KEY,
            ended_at REAL NOT NULL,
            recorded_at REAL NOT NULL,
            payload TEXT NOT NULL
        )""",
        "CREATE INDEX calls_recorded ON calls (recorded_at)",
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            adapter TEXT NOT NULL,
            kind TEXT NOT NULL,
            conversation TEXT NOT NULL,
            payload TEXT,
            state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'delivered', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before REAL NOT NULL,
            lease_owner TEXT,
            lease_until REAL,
            created_at REAL NOT NULL,
            finished_at REAL,
            last_error TEXT
        )""",
        "CREATE INDEX jobs_due ON jobs (adapter, state, not_before)",
        "CREATE INDEX jobs_chain ON jobs (adapter, conversation, id)",
        "CREATE INDEX jobs_lease ON jobs (state, lease_until)",
        "CREATE INDEX jobs_finished ON jobs (state, finished_at)",
        """CREATE TABLE adapter_state (
            adapter TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (adapter, key)
        )""",
    ),
    (
        """CREATE TABLE call_linkedids (
            linkedid TEXT PRIMARY KEY,
            call_id TEXT NOT NULL
        )""",
        "CREATE INDEX call_linkedids_call ON call_linkedids (call_id)",
        """INSERT OR IGNORE INTO call_linkedids (linkedid, call_id)
            SELECT value, calls.id FROM calls, json_each(calls.payload, '$.linkedids')""",
    ),
    (
        """CREATE TABLE outbox_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        "INSERT INTO outbox_meta (key, value) VALUES ('instance', lower(hex(randomblob(16))))",
    ),
)
