using System.Globalization;

namespace CareHub.Terminology.Snomed;

/// <summary>
/// Turns an expression constraint into a SQL query over the SNOMED CT store that selects a column <c>id</c>: hierarchy
/// operators read the closure table (descendants and ancestors) or the is-a relationships (children and parents),
/// member of reads the refset members, AND/OR/MINUS are INTERSECT/UNION/EXCEPT, and a refinement keeps the concepts
/// with an active relationship of a selected type to a selected value. Concept ids are parsed numbers, so they are
/// written into the SQL as literals; the text of the expression never reaches the SQL. The query is the same on SQLite
/// and PostgreSQL.
/// </summary>
public static class EclSql
{
    public static string Compile(EclNode node) => node switch
    {
        EclConcept concept => $"SELECT {Id(concept.Id)} AS id",
        EclAny => "SELECT id FROM sct_concept",
        EclRefsets => "SELECT DISTINCT refset_id AS id FROM sct_refset_member WHERE active = 1",
        EclMemberOf member => $"SELECT DISTINCT referenced_component_id AS id FROM sct_refset_member WHERE active = 1 AND refset_id {In(member.Refsets)}",
        EclHierarchy hierarchy => Hierarchy(hierarchy.Operator, hierarchy.Focus),
        EclCompound compound => $"SELECT id FROM ({Compile(compound.Left)}) l {compound.Operator switch { "AND" => "INTERSECT", "OR" => "UNION", _ => "EXCEPT" }} SELECT id FROM ({Compile(compound.Right)}) r",
        EclRefined refined => $"SELECT f.id FROM ({Compile(refined.Focus)}) f WHERE {string.Join($" {refined.Refinement.Join} ", refined.Refinement.Attributes.Select(Attribute))}",
        _ => throw new ArgumentException($"Unknown ECL node {node.GetType().Name}.", nameof(node)),
    };

    private static string Hierarchy(string op, EclNode focus)
    {
        var isA = $"type_id = {Snomed.IsA} AND active = 1";
        var query = op switch
        {
            "<" or "<<" => $"SELECT descendant_id AS id FROM sct_closure WHERE ancestor_id {In(focus)}",
            ">" or ">>" => $"SELECT ancestor_id AS id FROM sct_closure WHERE descendant_id {In(focus)}",
            "<!" or "<<!" => $"SELECT source_id AS id FROM sct_relationship WHERE {isA} AND destination_id {In(focus)}",
            _ => $"SELECT destination_id AS id FROM sct_relationship WHERE {isA} AND source_id {In(focus)}",
        };
        return op.Length > 1 && op[1] == op[0] ? $"{query} UNION SELECT id FROM ({Compile(focus)}) s" : query;
    }

    private static string Attribute(EclAttribute attribute) =>
        $"f.id IN (SELECT source_id FROM sct_relationship WHERE active = 1 AND type_id <> {Snomed.IsA} AND type_id {In(attribute.Name)} AND destination_id {(attribute.Equal ? string.Empty : "NOT ")}{In(attribute.Value)})";

    private static string In(EclNode node) => node is EclConcept concept ? $"IN ({Id(concept.Id)})" : $"IN ({Compile(node)})";

    private static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);
}
