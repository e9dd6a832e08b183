-- Server nodes on this database: the URL other nodes reach each one at (a device's media
-- offer is forwarded to the node carrying its meet), heart-beaten while the node runs.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
