-- meetdesk schema, PostgreSQL flavour. Keep in step with ../sqlite/0001_init.sql: the same
-- tables and columns; only the auto-increment keys differ. Times are Unix milliseconds,
-- flags are 0/1 integers (the same on both databases through sqlx's Any driver).

CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    widget_key TEXT NOT NULL UNIQUE,
    audio_enabled BIGINT NOT NULL,
    video_enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    seat BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    name TEXT NOT NULL,
    email TEXT,
    created_at BIGINT NOT NULL
);

-- One row per signed-in device: agent sign-ins, customer widget sessions, meet-link sessions.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    agent_id TEXT REFERENCES agents(id),
    customer_id TEXT REFERENCES customers(id),
    meet_id TEXT,
    device_name TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_agent ON sessions(agent_id);

CREATE TABLE chats (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    assignee_id TEXT REFERENCES agents(id),
    state TEXT NOT NULL,
    source TEXT NOT NULL,
    input_open BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX chats_channel ON chats(channel_id, updated_at);
CREATE INDEX chats_customer ON chats(customer_id);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    chat_id TEXT REFERENCES chats(id),
    room_id TEXT,
    internal BIGINT NOT NULL,
    author_kind TEXT NOT NULL,
    author_id TEXT,
    body TEXT NOT NULL,
    meet_id TEXT,
    link TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_chat ON messages(chat_id, created_at);
CREATE INDEX messages_room ON messages(room_id, created_at);

CREATE TABLE rooms (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE room_members (
    room_id TEXT NOT NULL REFERENCES rooms(id),
    agent_id TEXT NOT NULL REFERENCES agents(id),
    PRIMARY KEY (room_id, agent_id)
);

-- A meet: the pure state machine serialised in `state`, with the columns queries need.
-- `version` makes every change a compare-and-swap, so nodes racing on one meet are safe.
CREATE TABLE meets (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    scope_kind TEXT NOT NULL,
    chat_id TEXT,
    room_id TEXT,
    phase TEXT NOT NULL,
    next_deadline BIGINT,
    node_id TEXT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX meets_deadline ON meets(next_deadline);
CREATE INDEX meets_chat ON meets(chat_id, phase);
CREATE INDEX meets_room ON meets(room_id, phase);
-- At most one meet going on per user chat, per internal chat and per room.
CREATE UNIQUE INDEX meets_one_ongoing_in_chat ON meets(scope_kind, chat_id) WHERE phase <> 'ended' AND chat_id IS NOT NULL;
CREATE UNIQUE INDEX meets_one_ongoing_in_room ON meets(room_id) WHERE phase <> 'ended' AND room_id IS NOT NULL;

-- The event log: `id` is the resumable cursor clients see as `seq`.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    channel_id TEXT NOT NULL,
    audience TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Live event sockets, heart-beaten by the node holding them (customer "online").
CREATE TABLE presence (
    device_id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    agent_id TEXT,
    customer_id TEXT,
    last_seen BIGINT NOT NULL
);
CREATE INDEX presence_customer ON presence(customer_id);

-- Follow-ups waiting for (or handed to) the notifier.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    attempts BIGINT NOT NULL,
    last_error TEXT
);
