-- Nonces of signed requests, so that a request recorded during one run of
-- the relay is refused when replayed after a restart (the in-memory nonce
-- cache starts empty). A nonce is kept only until its signed timestamp can
-- no longer be accepted; the drop-box sweep deletes the expired ones.
CREATE TABLE nonce (
    nonce BLOB PRIMARY KEY CHECK (length(nonce) = 16),
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX nonce_expiry ON nonce (expires_at);
