-- Text that is compared or sorted uses the "C" collation (byte order, as SQLite's BINARY), so both stores order alike.
-- The search index: one table per type of value (FHIR R4 search.html#ptypes), rows replaced with every version.
-- Each table has two indexes: one for searching by value, one for finding a resource's rows (replacing them, sorting,
-- composites). More indexes cost more on every write than they save on rare searches (measured on the Synthea data).
-- grp ties together the component rows of one composite value ("name$0", "name$1", ...); 0 otherwise.

-- Tokens gain the normalised display or text (:text, which scans the parameter's rows), an Identifier's type
-- (:of-type) and the composite group.
ALTER TABLE search_token ADD COLUMN text TEXT COLLATE "C";
ALTER TABLE search_token ADD COLUMN type_system TEXT;
ALTER TABLE search_token ADD COLUMN type_code TEXT;
ALTER TABLE search_token ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;

-- Strings: norm is case- and accent-folded (prefix and :contains), exact as written (:exact).
CREATE TABLE search_string (
    type TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    param TEXT NOT NULL,
    grp INTEGER NOT NULL,
    norm TEXT COLLATE "C" NOT NULL,
    exact TEXT COLLATE "C" NOT NULL
);
CREATE INDEX ix_search_string_value ON search_string (type, param, norm);
CREATE INDEX ix_search_string_resource ON search_string (type, id);

-- Dates as the half-open range [low, high) in UTC milliseconds.
CREATE TABLE search_date (
    type TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    param TEXT NOT NULL,
    grp INTEGER NOT NULL,
    low BIGINT NOT NULL,
    high BIGINT NOT NULL
);
CREATE INDEX ix_search_date_value ON search_date (type, param, low, high);
CREATE INDEX ix_search_date_resource ON search_date (type, id);

-- Numbers: the value (NULL for a Range) and the range its precision implies.
CREATE TABLE search_number (
    type TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    param TEXT NOT NULL,
    grp INTEGER NOT NULL,
    value DOUBLE PRECISION,
    low DOUBLE PRECISION NOT NULL,
    high DOUBLE PRECISION NOT NULL
);
CREATE INDEX ix_search_number_value ON search_number (type, param, value);
CREATE INDEX ix_search_number_resource ON search_number (type, id);

CREATE TABLE search_quantity (
    type TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    param TEXT NOT NULL,
    grp INTEGER NOT NULL,
    system TEXT,
    code TEXT COLLATE "C",
    unit TEXT COLLATE "C",
    value DOUBLE PRECISION,
    low DOUBLE PRECISION NOT NULL,
    high DOUBLE PRECISION NOT NULL
);
CREATE INDEX ix_search_quantity_value ON search_quantity (type, param, code, value);
CREATE INDEX ix_search_quantity_resource ON search_quantity (type, id);

-- References: relative ones as target_type/target_id, absolute and canonical ones as url, logical ones by identifier.
-- The value index leads with the target: it serves searches by id, reverse chaining, _revinclude and compartments.
CREATE TABLE search_reference (
    type TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    param TEXT NOT NULL,
    grp INTEGER NOT NULL,
    target_type TEXT,
    target_id TEXT COLLATE "C",
    url TEXT COLLATE "C",
    id_system TEXT,
    id_value TEXT COLLATE "C"
);
CREATE INDEX ix_search_reference_value ON search_reference (target_id, target_type, type, param);
CREATE INDEX ix_search_reference_resource ON search_reference (type, id);

CREATE TABLE search_uri (
    type TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    param TEXT NOT NULL,
    grp INTEGER NOT NULL,
    value TEXT COLLATE "C" NOT NULL
);
CREATE INDEX ix_search_uri_value ON search_uri (type, param, value);
CREATE INDEX ix_search_uri_resource ON search_uri (type, id);
