-- Version 4: a mailbox is bound to two keys (member ‖ admin, 64 bytes in
-- `key`), and a deleted mailbox stays as a tombstone (`deleted`): no blobs,
-- its keys and last sequence number kept, so its id is never used again.
--
-- Mailboxes made under version 1 have one key and an id no current client
-- derives; they are retired as tombstones (no v1 clients are supported).
ALTER TABLE mailbox DROP CONSTRAINT IF EXISTS mailbox_key_check;
ALTER TABLE mailbox ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false;
DELETE FROM blob WHERE mailbox IN (SELECT rid FROM mailbox WHERE octet_length(key) = 32);
UPDATE mailbox SET key = key || key, deleted = true, blob_count = 0, byte_count = 0,
    compacted_through = last_seq
    WHERE octet_length(key) = 32;
ALTER TABLE mailbox ADD CONSTRAINT mailbox_keys_length CHECK (octet_length(key) = 64);
-- The retired mailboxes' blobs no longer count toward the global byte quota.
UPDATE relay_totals SET bytes = (SELECT coalesce(sum(byte_count), 0) FROM mailbox)
    + (SELECT coalesce(sum(octet_length(data)), 0) FROM dropbox);
