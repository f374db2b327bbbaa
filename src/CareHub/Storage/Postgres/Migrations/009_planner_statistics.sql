-- Planner statistics for a store upgraded to this version: until autovacuum's first analyse (after 10% of a table's rows
-- change, checked once a minute) PostgreSQL plans a freshly loaded table on guesses from its size on disk. ANALYZE reads
-- a fixed sample of each table (300 x default_statistics_target rows), so this takes seconds even on a large store.
ANALYZE resource_current, resource_version, search_token, search_string, search_date, search_number, search_quantity, search_reference, search_uri, outbox;
