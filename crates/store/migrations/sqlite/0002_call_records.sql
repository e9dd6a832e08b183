-- Call records (P8), kept identical on SQLite and PostgreSQL.
--
-- One row per (meet, agent). Every change (insert, "already handled", delete) takes the next
-- value of `call_record_seq` as the row's `seq`: the cursor of the desktop cache's changes feed.
-- A deleted record stays as a tombstone (`deleted_at` set) so caches learn of the delete;
-- tombstones are purged after a while and `call_record_horizons` remembers, per agent, the
-- highest purged seq (a cache whose cursor is older pulls everything again).
CREATE TABLE call_records (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    meet_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    scope_kind TEXT NOT NULL,
    media TEXT NOT NULL,
    chat_id TEXT,
    room_id TEXT,
    counterpart_kind TEXT NOT NULL,
    counterpart_id TEXT NOT NULL,
    counterpart_name TEXT NOT NULL,
    invited_by_id TEXT,
    invited_by_name TEXT,
    started_at BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at BIGINT,
    handled BIGINT NOT NULL,
    created_seq BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE UNIQUE INDEX call_records_one_per_meet ON call_records(meet_id, agent_id);
CREATE INDEX call_records_feed ON call_records(agent_id, seq);
CREATE INDEX call_records_live_started ON call_records(started_at) WHERE deleted_at IS NULL;
CREATE INDEX call_records_tombstones ON call_records(deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX call_records_unhandled ON call_records(channel_id, counterpart_id)
    WHERE direction = 'missed' AND handled = 0 AND deleted_at IS NULL;

-- The one counter every record change draws from (row 1).
CREATE TABLE call_record_seq (
    id BIGINT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO call_record_seq (id, value) VALUES (1, 0);

CREATE TABLE call_record_horizons (
    agent_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

-- Offline deletes replayed by a desktop cache: one row per idempotency key.
CREATE TABLE call_record_deletes (
    agent_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    deleted BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, idem_key)
);
CREATE INDEX call_record_deletes_created ON call_record_deletes(created_at);
