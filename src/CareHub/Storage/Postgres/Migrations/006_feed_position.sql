-- How far a reader of the change feed inside the record (the master person index's queued matching) has read. The
-- position is written in the same transaction as what the reader did with the changes, so a restart neither skips nor
-- repeats them.
CREATE TABLE feed_position (
    name TEXT NOT NULL PRIMARY KEY,
    position BIGINT NOT NULL
);
