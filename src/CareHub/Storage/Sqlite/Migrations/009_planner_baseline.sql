-- A baseline of planner statistics, so that a store nobody has analysed yet (a fresh one, or one upgraded to this
-- version) is planned as a loaded one is. Without sqlite_stat1 SQLite assumes every index equality narrows to about ten
-- rows, so it cannot tell the resource index (type, id) from a value index whose leading value is shared by every
-- record of a type, and the access policy's correlated clauses then scan the wrong one: on the demo a social worker's
-- Observation?_count=10 ran 225 s without statistics and 0.11 s after ANALYZE. The rows are what ANALYZE measured on
-- the demo community (240 patients, 9,113 resources), except search_number's, which the demo leaves empty and which are
-- those of search_date (the same shape of index over a value per resource); the store copies them into sqlite_stat1 for
-- any table that has no statistics of its own (https://www.sqlite.org/fileformat2.html#stat1tab allows writing it), and
-- replaces them with measured ones as writes accumulate (SqliteRecordStore.RefreshStatisticsCoreAsync).
CREATE TABLE planner_baseline (
    tbl TEXT NOT NULL,
    idx TEXT NOT NULL,
    stat TEXT NOT NULL,
    PRIMARY KEY (tbl, idx)
);
INSERT INTO planner_baseline (tbl, idx, stat) VALUES
    ('outbox', 'ix_outbox_resource', '8872 555 1'),
    ('resource_current', 'ix_resource_current_last_updated', '9113 537 2'),
    ('resource_current', 'resource_current', '9113 537 1'),
    ('resource_version', 'ix_resource_version_type_seq', '9113 537 1'),
    ('resource_version', 'sqlite_autoindex_resource_version_1', '9113 537 1 1'),
    ('search_date', 'ix_search_date_resource', '9666 806 1'),
    ('search_date', 'ix_search_date_value', '9666 806 691 2 2'),
    ('search_number', 'ix_search_number_resource', '9666 806 1'),
    ('search_number', 'ix_search_number_value', '9666 806 691 2'),
    ('search_quantity', 'ix_search_quantity_canonical', '28232 28232 4706 1009 15'),
    ('search_quantity', 'ix_search_quantity_resource', '28232 28232 6'),
    ('search_quantity', 'ix_search_quantity_value', '28232 28232 4706 785 14'),
    ('search_reference', 'ix_search_reference_resource', '53957 3855 6'),
    ('search_reference', 'ix_search_reference_value', '53957 7 7 5 4'),
    ('search_string', 'ix_search_string_resource', '7753 1551 16'),
    ('search_string', 'ix_search_string_value', '7753 1551 268 4'),
    ('search_token', 'ix_search_token_resource', '77742 4574 9'),
    ('search_token', 'ix_search_token_value_id', '77742 4574 828 7 7 1'),
    ('search_uri', 'ix_search_uri_resource', '8847 805 1'),
    ('search_uri', 'ix_search_uri_value', '8847 805 805 341');
