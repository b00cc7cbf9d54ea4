-- Version 3: a mailbox is bound to two keys (member ‖ admin, 64 bytes in
-- `key`), and a deleted mailbox stays as a tombstone (`deleted = 1`): no
-- blobs, its keys and last sequence number kept, so its id is never used
-- again (docs/relay.md, "Authorisation").
--
-- Mailboxes made under version 1 have one key and an id no current client
-- derives; they are retired as tombstones (no one-key clients are supported).
ALTER TABLE mailbox ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
DELETE FROM blob WHERE mailbox IN (SELECT rid FROM mailbox WHERE length(key) = 32);
UPDATE mailbox SET key = unhex(hex(key) || hex(key)), deleted = 1, blob_count = 0, byte_count = 0,
    compacted_through = last_seq
    WHERE length(key) = 32;
