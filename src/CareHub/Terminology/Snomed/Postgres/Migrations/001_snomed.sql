-- SNOMED CT from RF2 Snapshot files (docs/terminology.md). Ids are SCTIDs (64-bit integers); effective times YYYYMMDD.
CREATE TABLE sct_concept (
    id BIGINT NOT NULL PRIMARY KEY,
    effective_time INTEGER NOT NULL,
    active INTEGER NOT NULL,
    module_id BIGINT NOT NULL,
    definition_status_id BIGINT NOT NULL,
    preferred_term TEXT,
    fsn TEXT
);

CREATE TABLE sct_description (
    id BIGINT NOT NULL PRIMARY KEY,
    effective_time INTEGER NOT NULL,
    active INTEGER NOT NULL,
    module_id BIGINT NOT NULL,
    concept_id BIGINT NOT NULL,
    language_code TEXT NOT NULL,
    type_id BIGINT NOT NULL,
    term TEXT NOT NULL,
    case_significance_id BIGINT NOT NULL
);
CREATE INDEX sct_description_concept ON sct_description (concept_id);

CREATE TABLE sct_relationship (
    id BIGINT NOT NULL PRIMARY KEY,
    effective_time INTEGER NOT NULL,
    active INTEGER NOT NULL,
    module_id BIGINT NOT NULL,
    source_id BIGINT NOT NULL,
    destination_id BIGINT NOT NULL,
    relationship_group INTEGER NOT NULL,
    type_id BIGINT NOT NULL,
    characteristic_type_id BIGINT NOT NULL,
    modifier_id BIGINT NOT NULL
);
CREATE INDEX sct_relationship_source ON sct_relationship (source_id, type_id);
CREATE INDEX sct_relationship_destination ON sct_relationship (destination_id, type_id);

-- Members of every refset loaded: simple (no extra columns), language (acceptability), simple map (map_target) and
-- complex or extended map (group, priority, rule, advice, target, correlation).
CREATE TABLE sct_refset_member (
    id TEXT NOT NULL PRIMARY KEY,
    effective_time INTEGER NOT NULL,
    active INTEGER NOT NULL,
    module_id BIGINT NOT NULL,
    refset_id BIGINT NOT NULL,
    referenced_component_id BIGINT NOT NULL,
    acceptability_id BIGINT,
    map_target TEXT,
    map_group INTEGER,
    map_priority INTEGER,
    map_rule TEXT,
    map_advice TEXT,
    correlation_id BIGINT
);
CREATE INDEX sct_refset_member_refset ON sct_refset_member (refset_id, referenced_component_id);
CREATE INDEX sct_refset_member_component ON sct_refset_member (referenced_component_id);

-- Every (ancestor, descendant) pair of the active is-a hierarchy, a concept not being its own ancestor.
CREATE TABLE sct_closure (
    ancestor_id BIGINT NOT NULL,
    descendant_id BIGINT NOT NULL,
    PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX sct_closure_descendant ON sct_closure (descendant_id, ancestor_id);

-- One row per load; the highest generation is the content in force (cached expansions name the generation they used).
CREATE TABLE sct_load (
    generation BIGINT NOT NULL PRIMARY KEY,
    loaded TEXT NOT NULL,
    source TEXT NOT NULL,
    concepts BIGINT NOT NULL,
    descriptions BIGINT NOT NULL,
    relationships BIGINT NOT NULL,
    refset_members BIGINT NOT NULL,
    closure_rows BIGINT NOT NULL
);
