-- Version 4: who vouched for a drop-box (docs/relay.md, "Errors and
-- limits"): the mailbox it is charged to (NULL: an anonymous drop-box in
-- the shared pool), and whether it is a reservation (an id held for one
-- later put; empty data while unfilled).
ALTER TABLE dropbox ADD COLUMN owner BLOB;
ALTER TABLE dropbox ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0;
CREATE INDEX dropbox_owner ON dropbox (owner, expires_at) WHERE owner IS NOT NULL;
