-- The notification store: each subscription's settings and delivery state, its queue (which is also its delivery log),
-- each delivery attempt, and the position of the engine in the record's change feed. Times are Unix milliseconds (UTC).
CREATE TABLE notify_subscription (
    id TEXT NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    criteria TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload TEXT NOT NULL,
    principal TEXT NOT NULL,
    state TEXT NOT NULL,
    next_seq INTEGER NOT NULL,
    next_event INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    failing_since INTEGER,
    next_attempt INTEGER NOT NULL,
    last_error TEXT,
    last_delivered INTEGER,
    updated INTEGER NOT NULL
);
CREATE INDEX ix_notify_subscription_type ON notify_subscription (resource_type, state);

-- Who wrote each version of a Subscription, registered before the version commits (a version that rolls back leaves
-- a row nothing reads).
CREATE TABLE notify_subscriber (
    subscription_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    principal TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, version)
);

-- One row per notification, in queue order (seq); handshakes have no event number.
CREATE TABLE notify_event (
    subscription_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_number INTEGER,
    kind TEXT NOT NULL,
    feed_position INTEGER NOT NULL,
    resource_type TEXT,
    resource_id TEXT,
    resource_version INTEGER,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created INTEGER NOT NULL,
    sent INTEGER,
    PRIMARY KEY (subscription_id, seq)
);
CREATE INDEX ix_notify_event_queued ON notify_event (subscription_id, seq) WHERE state = 'queued';
CREATE INDEX ix_notify_event_number ON notify_event (subscription_id, event_number);

CREATE TABLE notify_attempt (
    id INTEGER PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    status_code INTEGER,
    error TEXT
);
CREATE INDEX ix_notify_attempt_subscription ON notify_attempt (subscription_id, id);

-- One row per subscription, locked by the node that delivers from its queue (PostgreSQL); kept for symmetry here.
CREATE TABLE notify_lock (
    subscription_id TEXT NOT NULL PRIMARY KEY
);

CREATE TABLE notify_feed (
    name TEXT NOT NULL PRIMARY KEY,
    position INTEGER NOT NULL
);
