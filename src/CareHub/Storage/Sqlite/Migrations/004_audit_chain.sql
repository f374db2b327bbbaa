-- The tamper-evident audit log (docs/decisions/audit.md): one link per AuditEvent version, numbered 1, 2, 3, ... in commit
-- order. body_hash is the SHA-256 of the audit record's stored bytes, hash chains it to the previous link.
CREATE TABLE audit_chain (
    sequence INTEGER PRIMARY KEY,
    audit_id TEXT NOT NULL,
    version_seq INTEGER NOT NULL UNIQUE,
    body_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);

-- Audit records already stored when the chain began are older than it and not covered; any later one without a link
-- was written behind the store's back.
CREATE TABLE audit_chain_start (before_seq INTEGER NOT NULL);
INSERT INTO audit_chain_start (before_seq) SELECT COALESCE(MAX(seq), 0) FROM resource_version;

-- The retention job removes a purged resource's change-feed events, found by resource.
CREATE INDEX ix_outbox_resource ON outbox (type, id);
