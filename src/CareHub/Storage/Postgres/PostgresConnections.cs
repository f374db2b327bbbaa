using System.Text.RegularExpressions;
using Npgsql;

namespace CareHub.Storage.Postgres;

/// <summary>How the PostgreSQL stores (record and messages) open their database: one data source, an optional schema.</summary>
public static partial class PostgresConnections
{
    /// <summary>
    /// A data source for the connection string, with <paramref name="schema"/> as its search path when given, and the lock
    /// scope (the schema) that keeps stores in different schemas of one database from serialising each other.
    /// </summary>
    public static (NpgsqlDataSource DataSource, string LockScope) Create(string connectionString, string? schema)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (schema is not null)
        {
            if (!SchemaName().IsMatch(schema))
            {
                throw new ArgumentException($"Schema name '{schema}' must be lower case letters, digits and underscores, starting with a letter or underscore (at most 63).", nameof(schema));
            }

            builder.SearchPath = schema;
        }

        return (NpgsqlDataSource.Create(builder.ConnectionString), builder.SearchPath ?? "public");
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex SchemaName();
}
