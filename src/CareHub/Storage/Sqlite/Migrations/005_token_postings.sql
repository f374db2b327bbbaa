-- Token index rows without a system (the master person index's blocking keys, the governance rows) are looked up by
-- code to find resource ids: blocks of candidates on every Patient write. Covering the id keeps those lookups inside
-- the index instead of one table row read per id found.
CREATE INDEX ix_search_token_nosystem ON search_token (type, param, code, id) WHERE system IS NULL;
