-- The sign-in store: the OpenID Connect server's clients (applications), authorizations, tokens and scopes, and the keys
-- it signs and encrypts with. Times are Unix milliseconds (UTC); lists and maps are JSON text. concurrency_token changes
-- on every update, so two nodes redeeming one authorization code cannot both succeed. One script serves SQLite and
-- PostgreSQL: only portable types (TEXT, BIGINT: SQLite gives BIGINT integer affinity).
CREATE TABLE signin_application (
    id TEXT NOT NULL PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    client_secret TEXT,
    client_type TEXT,
    application_type TEXT,
    consent_type TEXT,
    display_name TEXT,
    document TEXT NOT NULL,
    concurrency_token TEXT NOT NULL
);

CREATE TABLE signin_authorization (
    id TEXT NOT NULL PRIMARY KEY,
    application_id TEXT REFERENCES signin_application (id) ON DELETE CASCADE,
    subject TEXT,
    status TEXT,
    type TEXT,
    creation_date BIGINT,
    scopes TEXT NOT NULL,
    properties TEXT NOT NULL,
    concurrency_token TEXT NOT NULL
);
CREATE INDEX ix_signin_authorization_application ON signin_authorization (application_id, status, subject, type);
CREATE INDEX ix_signin_authorization_subject ON signin_authorization (subject);

CREATE TABLE signin_token (
    id TEXT NOT NULL PRIMARY KEY,
    application_id TEXT REFERENCES signin_application (id) ON DELETE CASCADE,
    authorization_id TEXT REFERENCES signin_authorization (id) ON DELETE CASCADE,
    subject TEXT,
    status TEXT,
    type TEXT,
    reference_id TEXT UNIQUE,
    creation_date BIGINT,
    expiration_date BIGINT,
    redemption_date BIGINT,
    payload TEXT,
    properties TEXT NOT NULL,
    concurrency_token TEXT NOT NULL
);
CREATE INDEX ix_signin_token_application ON signin_token (application_id, status, subject, type);
CREATE INDEX ix_signin_token_authorization ON signin_token (authorization_id);
CREATE INDEX ix_signin_token_subject ON signin_token (subject);
CREATE INDEX ix_signin_token_creation ON signin_token (creation_date);

CREATE TABLE signin_scope (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    document TEXT NOT NULL,
    concurrency_token TEXT NOT NULL
);

-- Signing ('sig') and encryption ('enc') keys, private material as PKCS#8 PEM or base64. A key signs or encrypts from
-- 'created' until a newer key of its use exists; it is kept, and a signing key published, until every token it
-- protected has expired.
CREATE TABLE signin_key (
    kid TEXT NOT NULL PRIMARY KEY,
    use TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    material TEXT NOT NULL,
    created BIGINT NOT NULL
);

-- The identifiers (jti) of the client assertions accepted, until they expire: an assertion is accepted once
-- (RFC 7523 section 3, SMART Backend Services).
CREATE TABLE signin_assertion (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX ix_signin_assertion_expires ON signin_assertion (expires);
