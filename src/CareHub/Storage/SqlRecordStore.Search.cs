using System.Data.Common;
using System.Globalization;
using System.Text;
using CareHub.Search;

namespace CareHub.Storage;

/// <summary>
/// Search: query clauses become SQL over resource_current and the index tables (one per type of value), results are
/// ordered by the sort keys and paged by keyset on (sort keys, type, id). The SQL is the same on both databases.
/// </summary>
public abstract partial class SqlRecordStore
{
    public async Task<SearchPage> SearchAsync(StoreQuery query, CancellationToken cancellationToken)
    {
        await using var reader = await RentReaderAsync(cancellationToken);
        return await SearchCoreAsync(reader.Connection, null, query, cancellationToken, reader.Commands);
    }

    /// <summary>
    /// The command for a search statement: from <paramref name="commands"/> when the connection keeps its statements (so
    /// a statement of the same shape, e.g. the access policy's clauses for one kind of caller, is compiled once per
    /// connection rather than once per query), else a new one. Only a new command is the caller's to dispose.
    /// </summary>
    private static (DbCommand Command, bool Owned) SearchCommand(DbConnection connection, DbTransaction? transaction, CommandCache? commands, string sql, List<(string Name, object? Value)> parameters)
    {
        if (commands is null)
        {
            return (Command(connection, transaction, sql, [.. parameters]), true);
        }

        var command = commands.Get(connection, transaction!, sql, [.. parameters.Select(p => p.Name)]);
        return (With(command, [.. parameters.Select(p => p.Value)]), false);
    }

    /// <summary>
    /// The LIMIT of a kept statement (a search's, the master person index's changed-since scan), written as a literal rather than bound. SQLite's planner reads a bound LIMIT's value and marks the
    /// statement to be recompiled whenever that parameter is bound again (sqlite3_prepare_v2,
    /// https://www.sqlite.org/c3ref/prepare.html), and Microsoft.Data.Sqlite binds every parameter on every run, so a kept
    /// statement would be recompiled on every run, and compiling the access policy's clauses costs ten times running them
    /// (docs/decisions/policy-performance.md). The few page sizes give few statement texts.
    /// </summary>
    private static string Limit(int count) => count.ToString(CultureInfo.InvariantCulture);

    private static async Task<SearchPage> SearchCoreAsync(DbConnection connection, DbTransaction? transaction, StoreQuery query, CancellationToken cancellationToken, CommandCache? commands = null)
    {
        var sql = new SqlBuilder();
        var filter = sql.Filter(query, "c");
        var backwards = query.Before is not null;
        var cursor = query.Before ?? query.After;
        var keys = query.Sort;

        // Sort keys are computed in a subquery so that the keyset and the order can name them.
        var keyColumns = new StringBuilder();
        for (var i = 0; i < keys.Count; i++)
        {
            keyColumns.Append(CultureInfo.InvariantCulture, $", {sql.SortExpression(keys[i], "c")} AS k{i}");
        }

        var order = new List<(string Expression, bool Descending, object? Cursor, bool Compare)>();
        for (var i = 0; i < keys.Count; i++)
        {
            // Resources without a value sort last in either direction: first by "has no value", then by the value.
            var value = cursor?.Keys.ElementAtOrDefault(i);
            order.Add(($"(CASE WHEN q.k{i} IS NULL THEN 1 ELSE 0 END)", false, value is null ? 1 : 0, true));
            order.Add(($"q.k{i}", keys[i].Descending, value is null ? null : Bind(keys[i].Source, value), value is not null));
        }

        order.Add(("q.type", false, cursor?.Type, true));
        order.Add(("q.id", false, cursor?.Id, true));

        var keyset = cursor is null ? string.Empty : " WHERE " + sql.Keyset(order, backwards);
        var orderBy = string.Join(", ", order.Select(o => $"{o.Expression} {((o.Descending ^ backwards) ? "DESC" : "ASC")}"));
        var limit = Limit(query.Count + 1);
        var text = $"SELECT v.type, v.id, v.version, v.last_updated, v.method, v.body{string.Concat(Enumerable.Range(0, keys.Count).Select(i => $", q.k{i}"))} " +
                   $"FROM (SELECT c.type, c.id, c.seq{keyColumns} FROM resource_current c WHERE {filter}) q JOIN resource_version v ON v.seq = q.seq" +
                   $"{keyset} ORDER BY {orderBy} LIMIT {limit}";

        var rows = new List<(StoredResource Resource, PageCursor Cursor)>();
        var (command, owned) = SearchCommand(connection, transaction, commands, text, sql.Parameters);
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var resource = ReadVersion(reader);
                var values = new object?[keys.Count];
                for (var i = 0; i < keys.Count; i++)
                {
                    values[i] = reader.IsDBNull(6 + i) ? null : reader.GetValue(6 + i);
                }

                rows.Add((resource, new PageCursor(values, resource.Type, resource.Id)));
            }
        }
        finally
        {
            if (owned)
            {
                await command.DisposeAsync();
            }
        }

        var more = rows.Count > query.Count;
        if (more)
        {
            rows.RemoveAt(query.Count);
        }

        if (backwards)
        {
            rows.Reverse();
        }

        long? total = null;
        if (query.CountTotal)
        {
            var count = new SqlBuilder();
            var countFilter = count.Filter(query, "c");
            var (counter, ownedCounter) = SearchCommand(connection, transaction, commands, $"SELECT COUNT(*) FROM resource_current c WHERE {countFilter}", count.Parameters);
            try
            {
                total = Convert.ToInt64(await counter.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
            }
            finally
            {
                if (ownedCounter)
                {
                    await counter.DisposeAsync();
                }
            }
        }

        // Going forwards, a previous page exists when we started after some row; going backwards, "more" means earlier pages.
        var page = backwards
            ? new SearchPage(rows.Select(r => r.Resource).ToList(), HasMore: true, HasPrevious: more, total)
            : new SearchPage(rows.Select(r => r.Resource).ToList(), HasMore: more, HasPrevious: query.After is not null, total);
        return page with
        {
            NextCursor = rows.Count > 0 ? rows[^1].Cursor : null,
            PreviousCursor = rows.Count > 0 ? rows[0].Cursor : null,
        };
    }

    /// <summary>A cursor value as the database type of its sort key (a cursor may have been through JSON).</summary>
    private static object Bind(SortSource source, object value) => source switch
    {
        SortSource.Date or SortSource.LastUpdated => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        SortSource.Number or SortSource.Quantity => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
    };

    public async Task<IReadOnlyList<string>> FindIdsAsync(StoreQuery query, CancellationToken cancellationToken)
    {
        await using var reader = await RentReaderAsync(cancellationToken);
        return await FindIdsCoreAsync(reader.Connection, null, query, cancellationToken, reader.Commands);
    }

    public async Task<IReadOnlyList<IReadOnlyList<string>>> TokenPostingsAsync(string type, string param, IReadOnlyList<string> codes, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await TokenPostingsCoreAsync(connection, null, type, param, codes, limit, cancellationToken);
    }

    /// <summary>
    /// One statement, one limited index range per code (UNION ALL). Index rows exist for current versions only (a new
    /// version or a deletion replaces them), so no join with resource_current is needed.
    /// </summary>
    private async Task<IReadOnlyList<IReadOnlyList<string>>> TokenPostingsCoreAsync(DbConnection connection, DbTransaction? transaction,
        string type, string param, IReadOnlyList<string> codes, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(codes);
        var postings = new List<string>[codes.Count];
        for (var i = 0; i < postings.Length; i++)
        {
            postings[i] = [];
        }

        if (codes.Count == 0)
        {
            return postings;
        }

        var parameters = new List<(string Name, object? Value)>(codes.Count + 3) { ("@type", type), ("@param", param), ("@limit", limit) };
        var sql = new StringBuilder();
        for (var i = 0; i < codes.Count; i++)
        {
            parameters.Add(("@c" + i.ToString(CultureInfo.InvariantCulture), codes[i]));
            sql.Append(i == 0 ? string.Empty : " UNION ALL ")
                .Append(CultureInfo.InvariantCulture, $"SELECT {i} AS k, q{i}.id FROM (SELECT t.id FROM search_token t{NoSystemTokenIndex} WHERE t.type = @type AND t.param = @param AND t.code = @c{i} AND t.system IS NULL LIMIT @limit) q{i}");
        }

        await using var command = Command(connection, transaction, sql.ToString(), [.. parameters]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            postings[reader.GetInt32(0)].Add(reader.GetString(1));
        }

        return postings;
    }

    private static async Task<IReadOnlyList<string>> FindIdsCoreAsync(DbConnection connection, DbTransaction? transaction, StoreQuery query, CancellationToken cancellationToken, CommandCache? commands = null)
    {
        var sql = new SqlBuilder();
        var filter = sql.Filter(query, "c");
        var limit = Limit(query.Count);
        var (command, owned) = SearchCommand(connection, transaction, commands, $"SELECT c.id FROM resource_current c WHERE {filter} ORDER BY c.id LIMIT {limit}", sql.Parameters);
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var ids = new List<string>();
            while (await reader.ReadAsync(cancellationToken))
            {
                ids.Add(reader.GetString(0));
            }

            return ids;
        }
        finally
        {
            if (owned)
            {
                await command.DisposeAsync();
            }
        }
    }

    internal static string TableName(IndexTable table) => table switch
    {
        IndexTable.Token => "search_token",
        IndexTable.String => "search_string",
        IndexTable.Date => "search_date",
        IndexTable.Number => "search_number",
        IndexTable.Quantity => "search_quantity",
        IndexTable.Reference => "search_reference",
        _ => "search_uri",
    };

    /// <summary>Builds one statement: its SQL text and parameters, with fresh aliases for nested subqueries.</summary>
    private sealed class SqlBuilder
    {
        private int parameter;
        private int alias;

        public List<(string, object?)> Parameters { get; } = [];

        /// <summary>Inside a <see cref="CorrelatedClause"/>: membership tests become correlated EXISTS.</summary>
        private int correlated;

        /// <summary>The alias of the resource the outermost correlated clause is deciding.</summary>
        private string? subject;

        /// <summary>The one Patient whose compartment the query is confined to ($everything), if any.</summary>
        private string? compartmentPatient;

        public string Add(object? value)
        {
            var name = "@p" + parameter++.ToString(CultureInfo.InvariantCulture);
            Parameters.Add((name, value));
            return name;
        }

        /// <summary>
        /// The row's parameter test. Inside a correlated probe it is written so that no value index can use it
        /// (<c>param || ''</c>): the probe must go by the resource's own rows ((type, id) index), not scan every row with
        /// a common value (every record of an organisation) and filter by id, which is what a planner without statistics
        /// picks when the value index matches more equality columns.
        /// </summary>
        private string ParamIs(string x, string param) =>
            correlated > 0 ? $"({x}.param || '') = {Add(param)}" : $"{x}.param = {Add(param)}";

        private string Alias(string prefix) => prefix + alias++.ToString(CultureInfo.InvariantCulture);

        /// <summary>Type lists as sets, by list: the policy's rules narrow every list of types by the query's (many, over all types).</summary>
        private readonly Dictionary<IReadOnlyList<string>, HashSet<string>> typeSets = new(ReferenceEqualityComparer.Instance);

        private HashSet<string> TypeSet(IReadOnlyList<string> types)
        {
            if (!typeSets.TryGetValue(types, out var set))
            {
                set = new HashSet<string>(types, StringComparer.Ordinal);
                typeSets[types] = set;
            }

            return set;
        }

        private string List(IEnumerable<string> values) => string.Join(", ", values.Select(v => Add(v)));

        /// <summary>
        /// A resource type name, written into the statement as a literal when it is one of R4's (letters only, so it cannot
        /// close the quotes; a caller's unknown type stays bound, so it makes no new statement text), else bound. The policy's rules and the includes of <c>$everything</c> name every type many times
        /// over; bound, each list of types is built again whenever SQLite evaluates it, and a statement over all types
        /// costs far more to run than the same statement with the names written in. A statement's text already depends
        /// on the types it names, so writing them in makes no new shapes.
        /// </summary>
        private string TypeName(string type) => IsTypeName(type) ? "'" + type + "'" : Add(type);

        private string TypeList(IEnumerable<string> types) => string.Join(", ", types.Select(TypeName));

        private static bool IsTypeName(string value) =>
            Fhir.FhirIds.IsResourceType(value) && value.All(char.IsAsciiLetter);

        public string Filter(StoreQuery query, string c)
        {
            if (query.Scope.Kind == QueryScopeKind.Request)
            {
                // The structural guard of docs/governance.md: a caller's query reaches SQL only through the access policy.
                throw new InvalidOperationException($"A query over {query.Type} parsed from a caller's request must be governed by the access policy before it runs.");
            }

            var types = query.Types ?? [query.Type];
            compartmentPatient = query.Clauses.OfType<CompartmentClause>().FirstOrDefault(x => x.TargetType == "Patient")?.TargetId;
            var parts = new List<string>
            {
                types.Count == 0 ? "1 = 0" : types.Count == 1 ? $"{c}.type = {TypeName(types[0])}" : $"{c}.type IN ({TypeList(types)})",
                $"{c}.deleted = 0",
            };
            // One clause drives the search through the index (an uncorrelated IN); the others are checked on the resources
            // it yields, through each index table's (type, id) index. Materialising every clause instead costs as much as
            // its rows: "code=<a common code>" or "date=ge2010" is a large share of all Observations.
            var driver = query.Clauses.Count > 1 ? query.Clauses.MinBy(Rank) : null;
            parts.AddRange(query.Clauses.Select(clause => driver is not null && !ReferenceEquals(clause, driver) && Probe(clause, c) is { } probe
                ? probe
                : Predicate(clause, c, types)));
            return string.Join(" AND ", parts);
        }

        /// <summary>How likely a clause is to select few resources, lowest first: ids, references to given resources, tokens, strings.</summary>
        private static int Rank(QueryClause clause) => clause switch
        {
            IdClause => 0,
            ReferenceClause reference when reference.AnyOf.All(m => m.TargetId is not null || m.IdentifierValue is not null) => 1,
            CompartmentClause => 2,
            TokenClause { Mode: TokenMode.Code or TokenMode.OfType } => 3,
            StringClause { Mode: StringMode.Exact or StringMode.Prefix } => 4,
            ChainClause or HasClause or ListClause => 5,
            TokenClause { Mode: TokenMode.Not } or MissingClause => 9,
            _ => 6,
        };

        /// <summary>A value clause as a correlated check on one resource's rows; null for clauses that stay uncorrelated.</summary>
        private string? Probe(QueryClause clause, string c)
        {
            if (clause is not ValueClause value || clause is DateClause { Param: "_lastUpdated" })
            {
                return null;
            }

            var x = Alias("x");
            var (table, row) = RowPredicate(value, x);
            var not = value is TokenClause { Mode: TokenMode.Not } ? "NOT " : string.Empty;
            // "param || ''" keeps the value index (type, param, ...) out of the probe: SQLite would otherwise prefer it to the
            // resource index (type, id) for its longer equality prefix and scan every row of a common value per resource.
            return $"{not}EXISTS (SELECT 1 FROM {table} {x} WHERE {x}.type = {c}.type AND {x}.id = {c}.id AND {x}.param || '' = {Add(value.Param)} AND {row})";
        }

        /// <summary>
        /// "The resource c (of one of <paramref name="types"/>) is among the rows the subquery selects." Written as an
        /// uncorrelated IN over the index, so that both databases drive the search from the index rather than probing
        /// the index once per candidate resource (SQLite does not turn a correlated EXISTS into a semi-join).
        /// </summary>
        private string Member(string c, IReadOnlyList<string> types, string typeColumn, string idColumn, string fromWhere, bool negate = false)
        {
            var not = negate ? "NOT " : string.Empty;
            if (correlated > 0)
            {
                // Per candidate: an index probe on the resource's own rows (every index table has (type, id)).
                return $"{not}EXISTS (SELECT 1 {fromWhere} AND {idColumn} = {c}.id AND {typeColumn} = {c}.type)";
            }

            if (types.Count == 1)
            {
                return $"{c}.id {not}IN (SELECT {idColumn} {fromWhere} AND {typeColumn} = {TypeName(types[0])})";
            }

            var pairs = $"({c}.type, {c}.id) {not}IN (SELECT {typeColumn}, {idColumn} {fromWhere} AND {typeColumn} IN ({TypeList(types)}))";
            // Over many types the row-value IN alone makes SQLite scan every resource of them (includes and $everything
            // ask over all types): the ids first let it look resources up by key.
            return negate ? pairs : $"{c}.id IN (SELECT {idColumn} {fromWhere}) AND {pairs}";
        }

        private string Predicate(QueryClause clause, string c, IReadOnlyList<string> types)
        {
            switch (clause)
            {
                case IdClause ids:
                    // "IN ()" is a syntax error in PostgreSQL; no ids matches nothing.
                    return ids.Ids.Count == 0 ? "1 = 0" : $"{c}.id IN ({List(ids.Ids)})";
                case DateClause { Param: "_lastUpdated" } date:
                    return Or(date.AnyOf.Select(m => DateMatches(m, $"{c}.last_updated", $"({c}.last_updated + 1)")));
                case ValueClause value:
                {
                    var x = Alias("x");
                    var (table, row) = RowPredicate(value, x);
                    // References to given resources are found by target_id, which leads the reference value index; a plain
                    // "type = t" would let SQLite prefer the resource index (type, id) and read every reference row of the type.
                    // A correlated probe is the other way round: it must go by the resource's own rows.
                    var typeColumn = correlated == 0 && value is ReferenceClause reference && reference.AnyOf.All(m => m.TargetId is not null) ? $"({x}.type || '')" : $"{x}.type";
                    return Member(c, types, typeColumn, $"{x}.id", $"FROM {table} {x} WHERE {ParamIs(x, value.Param)} AND {row}",
                        negate: value is TokenClause { Mode: TokenMode.Not });
                }

                case MissingClause missing:
                {
                    if (missing.Param is "_id" or "_lastUpdated")
                    {
                        return missing.Missing ? "1 = 0" : "1 = 1";
                    }

                    var x = Alias("x");
                    return Member(c, types, $"{x}.type", $"{x}.id", $"FROM {TableName(missing.Table)} {x} WHERE {ParamIs(x, missing.Param)}", negate: missing.Missing);
                }

                case CompositeClause composite:
                    return Or(composite.AnyOf.Select(components => Composite(components, c, types)));
                case ChainClause { TargetTypes: ["Patient"] } chain when correlated > 0 && compartmentPatient is not null:
                    return PatientChain(chain, c, compartmentPatient);
                case ChainClause chain:
                {
                    var r = Alias("r");
                    var t = Alias("c");
                    return Member(c, types, $"{r}.type", $"{r}.id",
                        $"FROM search_reference {r} JOIN resource_current {t} ON {t}.type = {r}.target_type AND {t}.id = {r}.target_id " +
                        $"WHERE {r}.param = {Add(chain.Param)} AND {t}.deleted = 0 AND {t}.type IN ({TypeList(chain.TargetTypes)}) AND {Predicate(chain.Inner, t, chain.TargetTypes)}");
                }

                case HasClause has:
                    return Has(has.SourceType, [has.Param], has.Inner, c, types);

                case ListClause list:
                {
                    var r = Alias("r");
                    var l = Alias("c");
                    return Member(c, types, $"{r}.target_type", $"{r}.target_id",
                        $"FROM search_reference {r} JOIN resource_current {l} ON {l}.type = {r}.type AND {l}.id = {r}.id " +
                        $"WHERE {r}.type = 'List' AND {r}.id = {Add(list.ListId)} AND {r}.param = 'item' AND {l}.deleted = 0");
                }

                case AnyClause any when any.AnyOf.Count > 1 && any.AnyOf.All(a => a is HasClause h && h.SourceType == ((HasClause)any.AnyOf[0]).SourceType && h.Inner == ((HasClause)any.AnyOf[0]).Inner):
                {
                    // What a resource refers to through any of its reference parameters (_include=T:*, $everything): one
                    // subquery over the parameters rather than one per parameter, OR'ed, which no index serves.
                    var first = (HasClause)any.AnyOf[0];
                    return Has(first.SourceType, [.. any.AnyOf.Select(a => ((HasClause)a).Param).Distinct(StringComparer.Ordinal)], first.Inner, c, types);
                }

                case AnyClause any:
                    return Or(any.AnyOf.Select(inner => Predicate(inner, c, types)));
                case ContentClause content:
                {
                    // No index serves a word inside any parameter's value: this reads every string and token row of the types.
                    var x = Alias("x");
                    var y = Alias("x");
                    var prefix = Add(EscapeLike(content.Word) + "%");
                    var inner = Add("% " + EscapeLike(content.Word) + "%");
                    return $"({Member(c, types, $"{x}.type", $"{x}.id", $"FROM search_string {x} WHERE ({x}.norm LIKE {prefix} ESCAPE '\\' OR {x}.norm LIKE {inner} ESCAPE '\\')")} OR " +
                           $"{Member(c, types, $"{y}.type", $"{y}.id", $"FROM search_token {y} WHERE ({y}.text LIKE {prefix} ESCAPE '\\' OR {y}.text LIKE {inner} ESCAPE '\\')")})";
                }

                case AllClause all:
                    return all.AllOf.Count == 0 ? "1 = 1" : "(" + string.Join(" AND ", all.AllOf.Select(inner => Predicate(inner, c, types))) + ")";
                case CorrelatedClause inner:
                {
                    if (correlated++ == 0)
                    {
                        subject = c;
                    }

                    try
                    {
                        return Predicate(inner.Inner, c, types);
                    }
                    finally
                    {
                        correlated--;
                    }
                }

                case SubjectTypeTokenClause subjectType:
                {
                    if (subject is null)
                    {
                        throw new ArgumentException("A subject-type clause must be inside a correlated clause.", nameof(clause));
                    }

                    var x = Alias("x");
                    return Member(c, types, $"{x}.type", $"{x}.id",
                        $"FROM search_token {x} WHERE {ParamIs(x, subjectType.Param)} AND {x}.system = {Add(subjectType.System)} AND {x}.code = {subject}.type");
                }

                case NotClause not:
                    return $"NOT ({Predicate(not.Inner, c, types)})";
                case TypesClause typed:
                {
                    var within = TypeSet(types);
                    var narrowed = typed.Types.Where(within.Contains).ToList();
                    if (narrowed.Count == 0)
                    {
                        return "1 = 0";
                    }

                    var typeTest = narrowed.Count == types.Count ? "1 = 1" : narrowed.Count == 1 ? $"{c}.type = {TypeName(narrowed[0])}" : $"{c}.type IN ({TypeList(narrowed)})";
                    return typed.Inner is null ? $"({typeTest})" : $"({typeTest} AND {Predicate(typed.Inner, c, narrowed)})";
                }
                case CompartmentClause compartment:
                {
                    var r = Alias("r");
                    var targetType = TypeName(compartment.TargetType);
                    var targetId = Add(compartment.TargetId);
                    var byType = Or(compartment.ParamsByType.Where(p => p.Value.Count > 0)
                        .Select(p => $"({r}.type = {TypeName(p.Key)} AND {r}.param IN ({List(p.Value)}))"));
                    var members = $"FROM search_reference {r} WHERE {r}.target_type = {targetType} AND {r}.target_id = {targetId} AND {byType}";
                    // The ids first, so the resources are looked up by key rather than every resource of every type scanned.
                    return $"{c}.id IN (SELECT {r}.id {members} UNION ALL SELECT {targetId}) AND " +
                           $"(({c}.type = {targetType} AND {c}.id = {targetId}) OR ({c}.type, {c}.id) IN (SELECT {r}.type, {r}.id {members}))";
                }

                default:
                    throw new ArgumentException($"Unsupported clause {clause.GetType().Name}", nameof(clause));
            }
        }

        /// <summary>
        /// A record-level rule about the record's patient (the access policy's relationship and consent rules), inside a
        /// query confined to one patient's compartment. Every record there is that patient's, so the rule is decided for
        /// that patient once, as an uncorrelated subquery SQLite runs once per statement, instead of once per record;
        /// only a record that also names another patient has the rule decided for that one.
        /// </summary>
        private string PatientChain(ChainClause chain, string c, string patient)
        {
            var r = Alias("r");
            var once = Alias("c");
            var each = Alias("c");
            var id = Add(patient);
            var patientType = TypeName("Patient");
            return $"EXISTS (SELECT 1 FROM search_reference {r} WHERE {ParamIs(r, chain.Param)} AND {r}.id = {c}.id AND {r}.type = {c}.type AND {r}.target_type = {patientType} AND " +
                   $"(CASE WHEN {r}.target_id = {id} " +
                   $"THEN (SELECT EXISTS (SELECT 1 FROM resource_current {once} WHERE {once}.type = {patientType} AND {once}.id = {id} AND {once}.deleted = 0 AND {Predicate(chain.Inner, once, chain.TargetTypes)})) " +
                   $"ELSE EXISTS (SELECT 1 FROM resource_current {each} WHERE {each}.type = {patientType} AND {each}.id = {r}.target_id AND {each}.deleted = 0 AND {Predicate(chain.Inner, each, chain.TargetTypes)}) END))";
        }

        /// <summary>Reverse chaining: some <paramref name="sourceType"/> matching <paramref name="inner"/> refers to c through one of <paramref name="parameters"/>.</summary>
        private string Has(string sourceType, IReadOnlyList<string> parameters, QueryClause inner, string c, IReadOnlyList<string> types)
        {
            var r = Alias("r");
            var s = Alias("c");
            var param = parameters.Count == 1 ? $"{r}.param = {Add(parameters[0])}" : $"{r}.param IN ({List(parameters)})";
            return Member(c, types, $"{r}.target_type", $"{r}.target_id",
                $"FROM search_reference {r} JOIN resource_current {s} ON {s}.type = {r}.type AND {s}.id = {r}.id " +
                $"WHERE {r}.type = {TypeName(sourceType)} AND {param} AND {s}.deleted = 0 AND {Predicate(inner, s, [sourceType])}");
        }

        /// <summary>One composite value matches every component: component rows of one group (grp) on one resource.</summary>
        private string Composite(IReadOnlyList<ValueClause> components, string c, IReadOnlyList<string> types)
        {
            if (components.Count == 0)
            {
                return "1 = 0";
            }

            var first = Alias("x");
            var (firstTable, firstRow) = RowPredicate(components[0], first);
            var where = new StringBuilder($"FROM {firstTable} {first} WHERE {ParamIs(first, components[0].Param)} AND {firstRow}");
            foreach (var component in components.Skip(1))
            {
                var x = Alias("x");
                var (table, row) = RowPredicate(component, x);
                where.Append(CultureInfo.InvariantCulture,
                    $" AND EXISTS (SELECT 1 FROM {table} {x} WHERE {x}.type = {first}.type AND {x}.id = {first}.id AND {x}.grp = {first}.grp AND ({x}.param || '') = {Add(component.Param)} AND {row})");
            }

            return Member(c, types, $"{first}.type", $"{first}.id", where.ToString());
        }

        private (string Table, string Predicate) RowPredicate(ValueClause clause, string x) => clause switch
        {
            TokenClause token => ("search_token", TokenPredicate(token, x)),
            StringClause text => ("search_string", Or(text.AnyOf.Select(v => text.Mode switch
            {
                StringMode.Exact => $"{x}.exact = {Add(v)}",
                StringMode.Contains => $"{x}.norm LIKE {Add("%" + EscapeLike(v) + "%")} ESCAPE '\\'",
                _ => $"{x}.norm LIKE {Add(EscapeLike(v) + "%")} ESCAPE '\\'",
            }))),
            DateClause date => ("search_date", Or(date.AnyOf.Select(m => DateMatches(m, $"{x}.low", $"{x}.high")))),
            NumberClause number => ("search_number", Or(number.AnyOf.Select(m => NumberMatches(m, x)))),
            QuantityClause quantity => ("search_quantity", Or(quantity.AnyOf.Select(m => QuantityMatches(m, x)))),
            ReferenceClause reference => ("search_reference", ReferencePredicate(reference, x)),
            UriClause uri => ("search_uri", Or(uri.AnyOf.Select(v => uri.Mode switch
            {
                UriMode.Below => $"{x}.value LIKE {Add(EscapeLike(v) + "%")} ESCAPE '\\'",
                UriMode.Above => $"substr({Add(v)}, 1, length({x}.value)) = {x}.value",
                _ => $"{x}.value = {Add(v)}",
            }))),
            _ => throw new ArgumentException($"Unsupported clause {clause.GetType().Name}", nameof(clause)),
        };

        /// <summary>
        /// Any of the token's values. Codes of one system are asked as "system = s AND code IN (...)": the terminology
        /// modifiers (:in, :below, ...) turn into lists of thousands of codes, which as thousands of ORs cost far more to
        /// plan than to run.
        /// </summary>
        private string TokenPredicate(TokenClause token, string x)
        {
            if (token.Mode is not (TokenMode.Code or TokenMode.Not) || token.AnyOf.Count < 4)
            {
                return Or(token.AnyOf.Select(m => TokenMatches(token.Mode, m, x)));
            }

            var plain = token.AnyOf.Where(m => m is { AnySystem: false, System: not null, Code: not null, TypeSystem: null }).ToList();
            var alternatives = token.AnyOf.Except(plain).Select(m => TokenMatches(token.Mode, m, x)).ToList();
            foreach (var system in plain.GroupBy(m => m.System!, StringComparer.Ordinal))
            {
                alternatives.Add($"({x}.system = {Add(system.Key)} AND {x}.code IN ({List(system.Select(m => CaseInsensitiveCodes.Fold(m.System, m.Code!)).Distinct(StringComparer.Ordinal))}))");
            }

            return Or(alternatives);
        }

        private string TokenMatches(TokenMode mode, TokenMatch match, string x)
        {
            var conditions = new List<string>();
            switch (mode)
            {
                case TokenMode.Text:
                    var text = EscapeLike(match.Code ?? string.Empty);
                    return $"({x}.text LIKE {Add(text + "%")} ESCAPE '\\' OR {x}.text LIKE {Add("% " + text + "%")} ESCAPE '\\')";
                case TokenMode.OfType:
                    conditions.Add($"{x}.type_system = {Add(match.TypeSystem)}");
                    conditions.Add($"{x}.type_code = {Add(match.TypeCode)}");
                    break;
            }

            if (match.Code is not null)
            {
                conditions.Add($"{x}.code = {Add(match.AnySystem ? match.Code : CaseInsensitiveCodes.Fold(match.System, match.Code))}");
            }

            if (!match.AnySystem)
            {
                conditions.Add(match.System is null ? $"{x}.system IS NULL" : $"{x}.system = {Add(match.System)}");
            }

            return conditions.Count == 0 ? "1 = 1" : "(" + string.Join(" AND ", conditions) + ")";
        }

        /// <summary>
        /// A target range [lo, hi) against the searched range (search.html#prefix, for ranges): eq when the search range
        /// contains the target, gt/lt when the target reaches beyond it, sa/eb when it starts after or ends before it, ap
        /// when it overlaps the (already widened) searched range.
        /// </summary>
        private string DateMatches(DateMatch m, string lo, string hi)
        {
            var low = Add(m.Low);
            var high = Add(m.High);
            var eq = $"({lo} >= {low} AND {hi} <= {high})";
            return m.Prefix switch
            {
                Prefix.Eq => eq,
                Prefix.Ne => $"NOT {eq}",
                Prefix.Gt => $"{hi} > {high}",
                Prefix.Lt => $"{lo} < {low}",
                Prefix.Ge => $"({hi} > {high} OR {eq})",
                Prefix.Le => $"({lo} < {low} OR {eq})",
                Prefix.Sa => $"{lo} >= {high}",
                Prefix.Eb => $"{hi} <= {low}",
                _ => $"({lo} < {high} AND {hi} > {low})",
            };
        }

        /// <summary>
        /// A number against the searched value (search.html#number): eq when the value lies in the range the searched
        /// value's precision implies; a stored Range (no value) compares by its bounds.
        /// </summary>
        private string NumberMatches(NumberMatch m, string x) => NumberMatches(m, $"{x}.value", $"{x}.low", $"{x}.high");

        private string NumberMatches(NumberMatch m, string valueColumn, string lowColumn, string highColumn)
        {
            var value = Add(m.Value);
            var low = Add(m.Low);
            var high = Add(m.High);
            var eq = $"(({valueColumn} IS NOT NULL AND {valueColumn} >= {low} AND {valueColumn} < {high}) OR ({valueColumn} IS NULL AND {lowColumn} >= {low} AND {highColumn} <= {high}))";
            return m.Prefix switch
            {
                Prefix.Eq => eq,
                Prefix.Ne => $"NOT {eq}",
                Prefix.Gt => $"COALESCE({valueColumn}, {highColumn}) > {value}",
                Prefix.Lt => $"COALESCE({valueColumn}, {lowColumn}) < {value}",
                Prefix.Ge => $"COALESCE({valueColumn}, {highColumn}) >= {value}",
                Prefix.Le => $"COALESCE({valueColumn}, {lowColumn}) <= {value}",
                Prefix.Sa => $"COALESCE({valueColumn}, {lowColumn}) > {value}",
                Prefix.Eb => $"COALESCE({valueColumn}, {highColumn}) < {value}",
                _ => $"(COALESCE({valueColumn}, {highColumn}) >= {low} AND COALESCE({valueColumn}, {lowColumn}) <= {high})",
            };
        }

        private string QuantityMatches(QuantityMatch m, string x)
        {
            if (m is { CanonicalCode: { } canonicalCode, CanonicalNumber: { } canonicalNumber })
            {
                // UCUM: rows with a canonical form compare in canonical units; rows written before migration 3 (no canonical
                // columns until a reindex) are compared as written.
                var canonical = $"({x}.canonical_code = {Add(canonicalCode)} AND {NumberMatches(canonicalNumber, $"{x}.canonical_value", $"{x}.canonical_low", $"{x}.canonical_high")})";
                var asWritten = $"({x}.canonical_code IS NULL AND {x}.system = {Add(m.System)} AND {x}.code = {Add(m.Code)} AND {NumberMatches(m.Number, x)})";
                return $"({canonical} OR {asWritten})";
            }

            var conditions = new List<string> { NumberMatches(m.Number, x) };
            if (m.System is not null)
            {
                conditions.Add($"{x}.system = {Add(m.System)}");
                if (m.Code is not null)
                {
                    conditions.Add($"{x}.code = {Add(m.Code)}");
                }
            }
            else if (m.Code is not null)
            {
                // Without a system the code matches the coded unit or the human-readable one (search.html#quantity).
                var code = Add(m.Code);
                conditions.Add($"({x}.code = {code} OR {x}.unit = {code})");
            }

            return "(" + string.Join(" AND ", conditions) + ")";
        }

        /// <summary>Any of the references; many resources of one type (a _revinclude of a page) as "target_type = t AND target_id IN (...)".</summary>
        private string ReferencePredicate(ReferenceClause reference, string x)
        {
            if (reference.AnyOf.Count < 4)
            {
                return Or(reference.AnyOf.Select(m => ReferenceMatches(m, x)));
            }

            var plain = reference.AnyOf.Where(m => m is { TargetType: not null, TargetId: not null, Url: null, IdentifierValue: null, IdentifierSystem: null }).ToList();
            var alternatives = reference.AnyOf.Except(plain).Select(m => ReferenceMatches(m, x)).ToList();
            foreach (var type in plain.GroupBy(m => m.TargetType!, StringComparer.Ordinal))
            {
                alternatives.Add($"({x}.target_type = {TypeName(type.Key)} AND {x}.target_id IN ({List(type.Select(m => m.TargetId!).Distinct(StringComparer.Ordinal))}))");
            }

            return Or(alternatives);
        }

        private string ReferenceMatches(ReferenceMatch m, string x)
        {
            var conditions = new List<string>();
            if (m.TargetType is not null)
            {
                conditions.Add($"{x}.target_type = {TypeName(m.TargetType)}");
            }

            if (m.TargetId is not null)
            {
                conditions.Add($"{x}.target_id = {Add(m.TargetId)}");
            }

            if (m.Url is not null)
            {
                conditions.Add($"{x}.url = {Add(m.Url)}");
            }

            if (m.IdentifierValue is not null)
            {
                conditions.Add($"{x}.id_value = {Add(m.IdentifierValue)}");
                if (!m.AnyIdentifierSystem)
                {
                    conditions.Add(m.IdentifierSystem is null ? $"{x}.id_system IS NULL" : $"{x}.id_system = {Add(m.IdentifierSystem)}");
                }
            }
            else if (m.IdentifierSystem is not null)
            {
                conditions.Add($"{x}.id_system = {Add(m.IdentifierSystem)}");
            }

            return conditions.Count == 0 ? "1 = 0" : "(" + string.Join(" AND ", conditions) + ")";
        }

        private static string Or(IEnumerable<string> alternatives)
        {
            var list = alternatives.ToList();
            // No values matches nothing, and "()" is not SQL.
            return list.Count switch
            {
                0 => "1 = 0",
                1 => list[0],
                _ => "(" + string.Join(" OR ", list) + ")",
            };
        }

        private static string EscapeLike(string value) =>
            value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

        /// <summary>The value a resource sorts by for one key: the lowest of its values ascending, the highest descending.</summary>
        public string SortExpression(SortBy key, string c)
        {
            var aggregate = key.Descending ? "MAX" : "MIN";
            string Rows(string table, string column)
            {
                var x = Alias("s");
                return $"(SELECT {aggregate}({column.Replace("$", x, StringComparison.Ordinal)}) FROM {table} {x} WHERE {x}.type = {c}.type AND {x}.id = {c}.id AND {x}.param = {Add(key.Param)})";
            }

            return key.Source switch
            {
                SortSource.Id => $"{c}.id",
                SortSource.LastUpdated => $"{c}.last_updated",
                SortSource.String => Rows("search_string", "$.norm"),
                SortSource.Token => Rows("search_token", "$.code"),
                SortSource.Date => Rows("search_date", key.Descending ? "$.high" : "$.low"),
                SortSource.Number => Rows("search_number", key.Descending ? "COALESCE($.value, $.high)" : "COALESCE($.value, $.low)"),
                SortSource.Quantity => Rows("search_quantity", key.Descending ? "COALESCE($.value, $.high)" : "COALESCE($.value, $.low)"),
                SortSource.Reference => Rows("search_reference", "COALESCE($.target_type || '/' || $.target_id, $.url)"),
                _ => Rows("search_uri", "$.value"),
            };
        }

        /// <summary>
        /// Rows strictly after the cursor in the order given (before it when going backwards): the lexicographic
        /// comparison of (e1, e2, ...) written out, since row-value comparison cannot mix directions.
        /// </summary>
        public string Keyset(List<(string Expression, bool Descending, object? Cursor, bool Compare)> order, bool backwards)
        {
            var alternatives = new List<string>();
            var equal = new List<string>();
            foreach (var (expression, descending, cursor, compare) in order)
            {
                if (!compare)
                {
                    // The cursor row has no value for this key: rows tied with it on the "has no value" flag have none
                    // either, so the key cannot tell them apart.
                    continue;
                }

                var literal = cursor is int flag ? flag.ToString(CultureInfo.InvariantCulture) : Add(cursor);
                var greater = descending ^ backwards ? "<" : ">";
                alternatives.Add(string.Join(" AND ", equal.Append($"{expression} {greater} {literal}")));
                equal.Add($"{expression} = {literal}");
            }

            return "(" + string.Join(" OR ", alternatives.Select(a => "(" + a + ")")) + ")";
        }
    }
}
