-- Nonces of signed requests, shared by every relay node, so that a request
-- replayed to a *different* node is refused too. A nonce is kept only until
-- its signed timestamp can no longer be accepted.
--
-- UNLOGGED: no WAL, so recording a nonce costs no flush and no replication.
-- The price: after a database crash or a fail-over to a standby the table
-- is empty, and a captured request could be replayed once within the clock
-- window. Each node's in-memory nonce cache still refuses replays to itself.
CREATE UNLOGGED TABLE nonce (
    nonce BYTEA PRIMARY KEY CHECK (octet_length(nonce) = 16),
    expires_at BIGINT NOT NULL
);
CREATE INDEX nonce_expiry ON nonce (expires_at);
