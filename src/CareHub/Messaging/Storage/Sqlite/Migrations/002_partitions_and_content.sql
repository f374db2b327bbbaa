-- Order per patient, not per channel, and de-duplication by content.
-- partition_key: an opaque hash of the patient's identifiers from PID (empty for messages without a patient); a
-- destination delivers each partition in order, so a failing message holds up only its own patient's later messages.
-- control_key: sending application, facility and MSH-10; content_hash: SHA-256 of the message after its MSH. A resend is
-- the same control_key and content_hash; the same control_key with another content_hash is new data, processed and
-- flagged. flags: space-separated marks (control-id-reused, ...).
ALTER TABLE message ADD COLUMN partition_key TEXT;
ALTER TABLE message ADD COLUMN control_key TEXT;
ALTER TABLE message ADD COLUMN content_hash TEXT;
ALTER TABLE message ADD COLUMN flags TEXT;
UPDATE message SET control_key = dedup_key WHERE dedup_key IS NOT NULL;
CREATE INDEX ix_message_control_key ON message (channel, control_key);

ALTER TABLE message_delivery ADD COLUMN partition_key TEXT NOT NULL DEFAULT '';
-- Dead letters from before partitions never held anything up: each gets a partition of its own.
UPDATE message_delivery SET partition_key = 'legacy-' || id WHERE state = 'dead-letter';
-- The heads of each patient's queue: unfinished rows (a dead letter holds its patient up until reprocessed or set aside).
CREATE INDEX ix_message_delivery_partition ON message_delivery (channel, destination, partition_key, id) WHERE state IN ('queued', 'error', 'dead-letter');
