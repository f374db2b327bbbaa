-- Quantities in canonical UCUM units (FHIR R4 search.html#quantity): a UCUM quantity's value and precision range
-- converted to base units, with the canonical code, so that searches in mg match values stored in g. NULL for units
-- without a canonical form and for rows written before this migration until `carehub reindex` (or $reindex) fills them.
ALTER TABLE search_quantity ADD COLUMN canonical_code TEXT;
ALTER TABLE search_quantity ADD COLUMN canonical_value REAL;
ALTER TABLE search_quantity ADD COLUMN canonical_low REAL;
ALTER TABLE search_quantity ADD COLUMN canonical_high REAL;
CREATE INDEX ix_search_quantity_canonical ON search_quantity (type, param, canonical_code, canonical_value);
