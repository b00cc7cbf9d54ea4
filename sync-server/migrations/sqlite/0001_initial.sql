-- The relay's SQLite schema, version 1: exactly what every relay before
-- versioned migrations created (and stamped `user_version = 1`), so their
-- files are at version 1 and only later migrations run on them.
-- Append only: a released migration never changes.
CREATE TABLE IF NOT EXISTS mailbox (
    rid INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    key BLOB NOT NULL,
    last_seq INTEGER NOT NULL,
    compacted_through INTEGER NOT NULL,
    blob_count INTEGER NOT NULL,
    byte_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blob (
    mailbox INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (mailbox, seq)
);
CREATE TABLE IF NOT EXISTS dropbox (
    id BLOB PRIMARY KEY,
    data BLOB NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dropbox_expiry ON dropbox (expires_at);
