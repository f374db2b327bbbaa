-- Every version of every resource; seq orders all writes (history, change feed).
CREATE TABLE resource_version (
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    method TEXT NOT NULL,
    body TEXT,
    UNIQUE (type, id, version)
);
CREATE INDEX ix_resource_version_type_seq ON resource_version (type, seq);

-- The current version of each resource: the row that reads and searches start from.
CREATE TABLE resource_current (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE INDEX ix_resource_current_last_updated ON resource_current (type, last_updated);

-- Token search index rows (identifier now; the search engine adds parameters and tables).
CREATE TABLE search_token (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    param TEXT NOT NULL,
    system TEXT,
    code TEXT NOT NULL
);
CREATE INDEX ix_search_token_value ON search_token (type, param, code, system);
CREATE INDEX ix_search_token_resource ON search_token (type, id);

-- The change feed (transactional outbox): one event per committed write, in commit order.
CREATE TABLE outbox (
    position INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    method TEXT NOT NULL,
    time INTEGER NOT NULL
);
