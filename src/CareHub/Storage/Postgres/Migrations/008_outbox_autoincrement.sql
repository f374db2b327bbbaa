-- SQLite's migration 008 makes change-feed positions never reused after a purge. PostgreSQL's identity column never hands
-- out a value twice already, so nothing changes here; the number keeps both stores at one schema version.
SELECT 1;
