-- The notification store: each subscription's settings and delivery state, its queue (which is also its delivery log),
-- each delivery attempt, and the position of the engine in the record's change feed. Times are Unix milliseconds (UTC).
CREATE TABLE notify_subscription (
    id TEXT NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL,
    resource_type TEXT NOT NULL,
    criteria TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload TEXT NOT NULL,
    principal TEXT NOT NULL,
    state TEXT NOT NULL,
    next_seq BIGINT NOT NULL,
    next_event BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    failing_since BIGINT,
    next_attempt BIGINT NOT NULL,
    last_error TEXT,
    last_delivered BIGINT,
    updated BIGINT NOT NULL
);
CREATE INDEX ix_notify_subscription_type ON notify_subscription (resource_type, state);

-- Who wrote each version of a Subscription, registered before the version commits (a version that rolls back leaves
-- a row nothing reads).
CREATE TABLE notify_subscriber (
    subscription_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    principal TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, version)
);

-- One row per notification, in queue order (seq); handshakes have no event number.
CREATE TABLE notify_event (
    subscription_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    event_number BIGINT,
    kind TEXT NOT NULL,
    feed_position BIGINT NOT NULL,
    resource_type TEXT,
    resource_id TEXT,
    resource_version BIGINT,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created BIGINT NOT NULL,
    sent BIGINT,
    PRIMARY KEY (subscription_id, seq)
);
CREATE INDEX ix_notify_event_queued ON notify_event (subscription_id, seq) WHERE state = 'queued';
CREATE INDEX ix_notify_event_number ON notify_event (subscription_id, event_number);

CREATE TABLE notify_attempt (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    status_code BIGINT,
    error TEXT
);
CREATE INDEX ix_notify_attempt_subscription ON notify_attempt (subscription_id, id);

-- One row per subscription, locked by the node that delivers from its queue (PostgreSQL); kept for symmetry here.
CREATE TABLE notify_lock (
    subscription_id TEXT NOT NULL PRIMARY KEY
);

CREATE TABLE notify_feed (
    name TEXT NOT NULL PRIMARY KEY,
    position BIGINT NOT NULL
);
