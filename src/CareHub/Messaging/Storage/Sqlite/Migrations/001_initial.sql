-- The message store: every message a channel received or produced, with its stages, and one delivery row per
-- destination. Times are Unix milliseconds (UTC).
CREATE TABLE message (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    received INTEGER NOT NULL,
    sender TEXT NOT NULL,
    control_id TEXT,
    message_type TEXT,
    trigger_event TEXT,
    raw BLOB NOT NULL,
    transformed TEXT,
    transformed_type TEXT,
    response TEXT,
    state TEXT NOT NULL,
    error TEXT,
    -- Sending application, facility and MSH-10 of an accepted message: a resend is found here and answered again.
    dedup_key TEXT,
    updated INTEGER NOT NULL,
    UNIQUE (channel, dedup_key)
);
CREATE INDEX ix_message_channel_id ON message (channel, id);
CREATE INDEX ix_message_received ON message (received);
CREATE INDEX ix_message_control_id ON message (control_id);

-- One row per message and destination: its own queue, retry schedule and outcome.
CREATE TABLE message_delivery (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES message (id),
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    last_error TEXT,
    response TEXT,
    updated INTEGER NOT NULL
);
-- The head of each destination's queue: pending rows in order.
CREATE INDEX ix_message_delivery_pending ON message_delivery (channel, destination, id) WHERE state IN ('queued', 'error');
CREATE INDEX ix_message_delivery_message ON message_delivery (message_id);

-- Per channel: paused or not, and how far an outbound channel has read the record's change feed.
CREATE TABLE message_channel (
    channel TEXT NOT NULL PRIMARY KEY,
    paused INTEGER NOT NULL,
    feed_position INTEGER NOT NULL
);

-- One row per destination queue, locked by the node that delivers from it (PostgreSQL); kept for symmetry here.
CREATE TABLE message_route (
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    PRIMARY KEY (channel, destination)
);
