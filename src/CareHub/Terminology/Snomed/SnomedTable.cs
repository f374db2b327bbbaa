namespace CareHub.Terminology.Snomed;

/// <summary>
/// A table of the SNOMED CT store and its columns in load order, the first being the component's id; a row loaded over
/// one with the same id replaces it only when its effective time is the same or later (so a UK extension loads over the
/// International edition, and loading an older release over a newer one changes nothing).
/// </summary>
public sealed record SnomedTable(string Name, IReadOnlyList<string> Columns)
{
    public static readonly SnomedTable Concept = new("sct_concept", ["id", "effective_time", "active", "module_id", "definition_status_id"]);

    public static readonly SnomedTable Description = new("sct_description",
        ["id", "effective_time", "active", "module_id", "concept_id", "language_code", "type_id", "term", "case_significance_id"]);

    public static readonly SnomedTable Relationship = new("sct_relationship",
        ["id", "effective_time", "active", "module_id", "source_id", "destination_id", "relationship_group", "type_id", "characteristic_type_id", "modifier_id"]);

    public static readonly SnomedTable RefsetMember = new("sct_refset_member",
        ["id", "effective_time", "active", "module_id", "refset_id", "referenced_component_id", "acceptability_id", "map_target", "map_group", "map_priority", "map_rule", "map_advice", "correlation_id"]);

    public static readonly SnomedTable Closure = new("sct_closure", ["ancestor_id", "descendant_id"]);

    /// <summary>The upsert's tail: replace the row when the incoming effective time is the same or later.</summary>
    public string OnConflictNewer() =>
        $" ON CONFLICT (id) DO UPDATE SET {string.Join(", ", Columns.Skip(1).Select(c => $"{c} = excluded.{c}"))} WHERE excluded.effective_time >= {Name}.effective_time";
}
