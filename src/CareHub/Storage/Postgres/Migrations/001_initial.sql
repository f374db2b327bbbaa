-- Ids use the "C" collation (byte order, as SQLite's BINARY): search pages by keyset on id, so the order must not
-- depend on the database's locale, and every id column needs the same collation to be compared with the others.

-- Every version of every resource; seq orders all writes (history).
CREATE TABLE resource_version (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    version INTEGER NOT NULL,
    last_updated BIGINT NOT NULL,
    method TEXT NOT NULL,
    body JSONB,
    UNIQUE (type, id, version)
);
CREATE INDEX ix_resource_version_type_seq ON resource_version (type, seq);

-- The current version of each resource: the row that reads and searches start from.
CREATE TABLE resource_current (
    type TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    version INTEGER NOT NULL,
    seq BIGINT NOT NULL,
    deleted INTEGER NOT NULL,
    last_updated BIGINT NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE INDEX ix_resource_current_last_updated ON resource_current (type, last_updated);

-- Token search index rows (identifier now; the search engine adds parameters and tables).
CREATE TABLE search_token (
    type TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    param TEXT NOT NULL,
    system TEXT,
    code TEXT NOT NULL
);
CREATE INDEX ix_search_token_value ON search_token (type, param, code, system);
CREATE INDEX ix_search_token_resource ON search_token (type, id);

-- The change feed (transactional outbox). Positions are taken under an advisory lock at commit,
-- so they follow commit order and a reader never skips a late-committing lower position.
CREATE TABLE outbox (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    version INTEGER NOT NULL,
    method TEXT NOT NULL,
    time BIGINT NOT NULL
);
