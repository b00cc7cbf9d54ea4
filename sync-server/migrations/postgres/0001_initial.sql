-- The relay's PostgreSQL schema, version 1. Same content as the SQLite store:
-- mailbox ids, verifying keys, counters, blobs with sequence numbers,
-- drop-boxes with their expiry. No addresses, no times of access.

CREATE TABLE mailbox (
    -- Surrogate key: blob rows carry 8 bytes instead of the 32-byte id, and a
    -- deleted and re-created mailbox gets a new rid.
    rid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id BYTEA NOT NULL UNIQUE CHECK (octet_length(id) = 32),
    key BYTEA NOT NULL CHECK (octet_length(key) = 32),
    -- Highest sequence number ever assigned. Appends lock this row
    -- (SELECT ... FOR UPDATE), which is what keeps sequences gapless and
    -- ordered when several relay nodes append to one mailbox.
    last_seq BIGINT NOT NULL,
    compacted_through BIGINT NOT NULL,
    blob_count BIGINT NOT NULL,
    byte_count BIGINT NOT NULL
);

-- No foreign key to mailbox: every insert happens under the mailbox row's
-- lock, and deleting a mailbox deletes its blobs in the same transaction.
CREATE TABLE blob (
    mailbox BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (mailbox, seq)
);
-- Ciphertext does not compress: store it out of line without trying.
ALTER TABLE blob ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE dropbox (
    id BYTEA PRIMARY KEY CHECK (octet_length(id) = 32),
    data BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dropbox_expiry ON dropbox (expires_at);
