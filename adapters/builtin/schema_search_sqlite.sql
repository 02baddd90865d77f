-- Search indexes for SQLite only (FTS5 with the trigram tokenizer, SQLite >= 3.34), applied by
-- adapters/builtin/search.py `ensure_index`, kept apart from the portable schema files.
-- Substring search (`LIKE '%фамилия42%'`, a phone fragment `%916123%`) cannot use a B-tree
-- index, so it scanned every client and phone (p95 0.3–7 s at 100k clients). A trigram index
-- answers such LIKE patterns of 3+ characters from the index.
--
-- PostgreSQL equivalent (no extra tables: the same LIKE on the base columns uses the index):
--   CREATE EXTENSION IF NOT EXISTS pg_trgm;
--   CREATE INDEX IF NOT EXISTS clients_search_trgm ON clients USING gin (search gin_trgm_ops);
--   CREATE INDEX IF NOT EXISTS phones_phone_trgm ON phones USING gin (phone gin_trgm_ops);

-- clients.search (folded name and e-mails, filled by search.refresh_index), by client id.
CREATE VIRTUAL TABLE IF NOT EXISTS clients_search_fts
    USING fts5(search, content='clients', content_rowid='id', tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS clients_search_fts_insert AFTER INSERT ON clients BEGIN
    INSERT INTO clients_search_fts(rowid, search) VALUES (new.id, new.search);
END;
CREATE TRIGGER IF NOT EXISTS clients_search_fts_delete AFTER DELETE ON clients BEGIN
    INSERT INTO clients_search_fts(clients_search_fts, rowid, search) VALUES ('delete', old.id, old.search);
END;
CREATE TRIGGER IF NOT EXISTS clients_search_fts_update AFTER UPDATE OF search ON clients BEGIN
    INSERT INTO clients_search_fts(clients_search_fts, rowid, search) VALUES ('delete', old.id, old.search);
    INSERT INTO clients_search_fts(rowid, search) VALUES (new.id, new.search);
END;

-- phones.phone (E.164), by the phones row's rowid.
CREATE VIRTUAL TABLE IF NOT EXISTS phones_fts
    USING fts5(phone, content='phones', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS phones_fts_insert AFTER INSERT ON phones BEGIN
    INSERT INTO phones_fts(rowid, phone) VALUES (new.rowid, new.phone);
END;
CREATE TRIGGER IF NOT EXISTS phones_fts_delete AFTER DELETE ON phones BEGIN
    INSERT INTO phones_fts(phones_fts, rowid, phone) VALUES ('delete', old.rowid, old.phone);
END;
CREATE TRIGGER IF NOT EXISTS phones_fts_update AFTER UPDATE ON phones BEGIN
    INSERT INTO phones_fts(phones_fts, rowid, phone) VALUES ('delete', old.rowid, old.phone);
    INSERT INTO phones_fts(rowid, phone) VALUES (new.rowid, new.phone);
END;
