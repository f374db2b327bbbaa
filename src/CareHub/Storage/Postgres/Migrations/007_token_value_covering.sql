-- One token value index that covers the id, in place of the value index and the partial index of migration 005: a token
-- row without a system (the master person index's blocking keys and links, the governance rows) went into both, two
-- scattered pages for every such row a write adds. Lookups by code, with or without a system, now find ids inside this
-- one index.
CREATE INDEX ix_search_token_value_id ON search_token (type, param, code, system, id);
DROP INDEX ix_search_token_nosystem;
DROP INDEX ix_search_token_value;
