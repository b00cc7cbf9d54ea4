-- Limits that hold against an outsider (issue 16; docs/relay.md, "Errors
-- and limits").
--
-- Who vouched for a drop-box: the mailbox it is charged to (NULL: nobody,
-- an anonymous drop-box in the shared pool), and whether it is a
-- reservation (an id held for one later put; empty data while unfilled).
ALTER TABLE dropbox ADD COLUMN owner BYTEA CHECK (owner IS NULL OR octet_length(owner) = 32);
ALTER TABLE dropbox ADD COLUMN reserved BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX dropbox_owner ON dropbox (owner, expires_at) WHERE owner IS NOT NULL;

-- Store-wide counts behind the global quotas, shared by every node. Every
-- write batch that changes them locks this one row (after its mailbox rows
-- and the drop-box lock), so the quotas hold exactly across nodes.
CREATE TABLE relay_totals (
    one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    mailboxes BIGINT NOT NULL,
    -- Bytes of every blob and every drop-box.
    bytes BIGINT NOT NULL,
    anonymous_dropboxes BIGINT NOT NULL
);
INSERT INTO relay_totals (mailboxes, bytes, anonymous_dropboxes)
SELECT (SELECT count(*) FROM mailbox),
       (SELECT coalesce(sum(byte_count), 0) FROM mailbox)
           + (SELECT coalesce(sum(octet_length(data)), 0) FROM dropbox),
       (SELECT count(*) FROM dropbox);
