namespace CareHub.Storage;

// ---- index rows: what a version's search parameters hold, one table per type of value ----------------------------

/// <summary>
/// One search index value of one parameter. <see cref="Group"/> ties together the component rows of one composite
/// value (params "name$0", "name$1", ...); 0 for everything else.
/// </summary>
public abstract record IndexRow(string Param)
{
    public int Group { get; init; }
}

/// <summary>
/// A token: system|code. <see cref="Text"/> is the normalised display or text (for :text); <see cref="TypeSystem"/> and
/// <see cref="TypeCode"/> are an Identifier's type (for :of-type). A CodeableConcept's text alone has an empty code.
/// </summary>
public sealed record TokenIndexRow(string Param, string? System, string Code, string? Text = null, string? TypeSystem = null, string? TypeCode = null) : IndexRow(Param);

/// <summary>A string: <see cref="Normalized"/> is case- and accent-folded (default and :contains), <see cref="Exact"/> as written (:exact).</summary>
public sealed record StringIndexRow(string Param, string Normalized, string Exact) : IndexRow(Param);

/// <summary>A date, dateTime, instant, Period or Timing as the half-open range [Low, High) in UTC milliseconds.</summary>
public sealed record DateIndexRow(string Param, long Low, long High) : IndexRow(Param);

/// <summary>A number: its value (null for a Range) and the range its precision implies (search.html#number).</summary>
public sealed record NumberIndexRow(string Param, double? Value, double Low, double High) : IndexRow(Param);

/// <summary>
/// A Quantity (or Money, or Range): value, system, code and unit, and the range its precision implies; for a UCUM unit
/// with a canonical form (<see cref="Search.Ucum"/>) also the value and range in canonical units and the canonical code.
/// </summary>
public sealed record QuantityIndexRow(string Param, string? System, string? Code, string? Unit, double? Value, double Low, double High) : IndexRow(Param)
{
    public string? CanonicalCode { get; init; }

    public double? CanonicalValue { get; init; }

    public double? CanonicalLow { get; init; }

    public double? CanonicalHigh { get; init; }
}

/// <summary>
/// A reference: a relative one as <see cref="TargetType"/>/<see cref="TargetId"/>, an absolute or canonical one as
/// <see cref="Url"/>, and a logical one by its identifier.
/// </summary>
public sealed record ReferenceIndexRow(string Param, string? TargetType, string? TargetId, string? Url, string? IdentifierSystem = null, string? IdentifierValue = null) : IndexRow(Param);

public sealed record UriIndexRow(string Param, string Value) : IndexRow(Param);

/// <summary>The index tables, one per type of value.</summary>
public enum IndexTable
{
    Token,
    String,
    Date,
    Number,
    Quantity,
    Reference,
    Uri,
}

// ---- query clauses -----------------------------------------------------------------------------------------------

public abstract record QueryClause;

public sealed record IdClause(IReadOnlyList<string> Ids) : QueryClause;

/// <summary>A clause on one parameter's index rows: true when some row of the parameter matches any of its values.</summary>
public abstract record ValueClause(string Param) : QueryClause;

public enum TokenMode
{
    /// <summary>system|code, |code, system|, code.</summary>
    Code,

    /// <summary>:not — no row matches (resources without a value match too).</summary>
    Not,

    /// <summary>:text — the display or text starts with the value (a word of it, case- and accent-insensitively).</summary>
    Text,

    /// <summary>:of-type — an Identifier's type system|code and its value.</summary>
    OfType,
}

/// <summary>A token parameter. A null <see cref="TokenMatch.System"/> with <see cref="TokenMatch.AnySystem"/> false means "no system" (|code).</summary>
public sealed record TokenClause(string Param, IReadOnlyList<TokenMatch> AnyOf, TokenMode Mode = TokenMode.Code) : ValueClause(Param);

public sealed record TokenMatch(string? System, string? Code, bool AnySystem, string? TypeSystem = null, string? TypeCode = null);

public enum StringMode
{
    Prefix,
    Exact,
    Contains,
}

/// <summary>A string parameter; values are already normalised for <see cref="StringMode.Prefix"/> and <see cref="StringMode.Contains"/>.</summary>
public sealed record StringClause(string Param, IReadOnlyList<string> AnyOf, StringMode Mode) : ValueClause(Param);

/// <summary>The comparison prefixes of number, date and quantity (search.html#prefix).</summary>
public enum Prefix
{
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

/// <summary>A searched date as the range [Low, High) in UTC milliseconds it stands for.</summary>
public sealed record DateMatch(Prefix Prefix, long Low, long High);

/// <summary>A date parameter; on _lastUpdated it compares the resource's own timestamp.</summary>
public sealed record DateClause(string Param, IReadOnlyList<DateMatch> AnyOf) : ValueClause(Param);

/// <summary>A searched number: its value and the range its precision implies.</summary>
public sealed record NumberMatch(Prefix Prefix, double Value, double Low, double High);

public sealed record NumberClause(string Param, IReadOnlyList<NumberMatch> AnyOf) : ValueClause(Param);

/// <summary>
/// A searched quantity; a null system or code matches any (a code without system also matches the unit). A UCUM code
/// with a canonical form carries the searched number in canonical units and the canonical code, which are matched
/// against the rows' canonical columns (and, for rows written before those existed, the code as written).
/// </summary>
public sealed record QuantityMatch(NumberMatch Number, string? System, string? Code)
{
    public NumberMatch? CanonicalNumber { get; init; }

    public string? CanonicalCode { get; init; }
}

public sealed record QuantityClause(string Param, IReadOnlyList<QuantityMatch> AnyOf) : ValueClause(Param);

/// <summary>
/// A searched reference: by type and id (a null type: any), by absolute or canonical URL, or (:identifier) by the
/// reference's identifier.
/// </summary>
public sealed record ReferenceMatch(string? TargetType, string? TargetId, string? Url = null, string? IdentifierSystem = null, string? IdentifierValue = null, bool AnyIdentifierSystem = false);

public sealed record ReferenceClause(string Param, IReadOnlyList<ReferenceMatch> AnyOf) : ValueClause(Param);

public enum UriMode
{
    Exact,

    /// <summary>:below — the stored URI starts with the value.</summary>
    Below,

    /// <summary>:above — the value starts with the stored URI.</summary>
    Above,
}

public sealed record UriClause(string Param, IReadOnlyList<string> AnyOf, UriMode Mode) : ValueClause(Param);

/// <summary>:missing — true: the resource has no value for the parameter; false: it has one.</summary>
public sealed record MissingClause(string Param, IndexTable Table, bool Missing) : QueryClause;

/// <summary>
/// A composite parameter: some alternative must hold, and an alternative holds when one composite value (one group of
/// component rows) matches all its component clauses. Component clauses name the component params ("name$0", ...).
/// </summary>
public sealed record CompositeClause(string Param, IReadOnlyList<IReadOnlyList<ValueClause>> AnyOf) : QueryClause;

/// <summary>Chaining (search.html#chaining): some resource of <see cref="TargetTypes"/> this one refers to through <see cref="Param"/> matches <see cref="Inner"/>.</summary>
public sealed record ChainClause(string Param, IReadOnlyList<string> TargetTypes, QueryClause Inner) : QueryClause;

/// <summary>Reverse chaining (search.html#has): some <see cref="SourceType"/> referring to this resource through <see cref="Param"/> matches <see cref="Inner"/>.</summary>
public sealed record HasClause(string SourceType, string Param, QueryClause Inner) : QueryClause;

/// <summary>_list: the resource is an item of the current List with this id.</summary>
public sealed record ListClause(string ListId) : QueryClause;

/// <summary>Some of the clauses hold.</summary>
public sealed record AnyClause(IReadOnlyList<QueryClause> AnyOf) : QueryClause;

/// <summary>Every one of the clauses holds (an empty list always holds): the words of _text and _content, the access policy's rules.</summary>
public sealed record AllClause(IReadOnlyList<QueryClause> AllOf) : QueryClause;

/// <summary>
/// <see cref="Inner"/>, evaluated per candidate resource (correlated EXISTS) rather than as a set computed once (IN over
/// an uncorrelated subquery). For conditions that hold for many resources but are tested on few, such as the access
/// policy's rules on a search the caller has already narrowed: the set form would materialise every patient a trust
/// has a relationship with on each query.
/// </summary>
public sealed record CorrelatedClause(QueryClause Inner) : QueryClause;

/// <summary>
/// A token row of <see cref="Param"/> with system <see cref="System"/> whose code is the type of the resource the
/// enclosing <see cref="CorrelatedClause"/> is deciding (the access policy's consents limited to resource types).
/// Only meaningful inside a <see cref="CorrelatedClause"/>.
/// </summary>
public sealed record SubjectTypeTokenClause(string Param, string System) : QueryClause;

/// <summary>The clause does not hold.</summary>
public sealed record NotClause(QueryClause Inner) : QueryClause;

/// <summary>
/// The resource is of one of <see cref="Types"/> and meets <see cref="Inner"/> (null: any resource of those types), for
/// conditions that differ by type in a search over several types (the access policy's rules, for one).
/// </summary>
public sealed record TypesClause(IReadOnlyList<string> Types, QueryClause? Inner) : QueryClause;

/// <summary>
/// _content: some indexed string of the resource (a string parameter's folded value, or a token's folded display or
/// text), of any parameter, has a word starting with <see cref="Word"/>.
/// </summary>
public sealed record ContentClause(string Word) : QueryClause;

/// <summary>
/// Membership of a compartment (compartmentdefinition.html): the resource refers to <see cref="TargetType"/>/<see
/// cref="TargetId"/> through one of the parameters its type has in the compartment, or is that resource itself.
/// </summary>
public sealed record CompartmentClause(string TargetType, string TargetId, IReadOnlyDictionary<string, IReadOnlyList<string>> ParamsByType) : QueryClause;

/// <summary>What a sort key reads: the resource's own columns or one parameter's index rows.</summary>
public enum SortSource
{
    Id,
    LastUpdated,
    String,
    Token,
    Date,
    Number,
    Quantity,
    Reference,
    Uri,
}

/// <summary>
/// One _sort key. A resource with several values sorts by the lowest ascending and the highest descending; one without
/// a value sorts last either way.
/// </summary>
public sealed record SortBy(string Param, SortSource Source, bool Descending);
