using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using OpenIddict.Abstractions;

namespace CareHub.Server.SignIn.Storage;

/// <summary>
/// One sign-in table as its OpenIddict store reads it: rows mapped to entities, paging, the ad hoc LINQ queries OpenIddict
/// leaves to a store (run over the rows read into memory: the registry and the live tokens are small, and CareHub's flows
/// use the indexed look-ups), and deletes guarded by the row's concurrency token.
/// </summary>
internal sealed class SignInTable<T>(SignInDatabase database, string table, string columns, string order, Func<DbDataReader, T> read)
{
    public Task<List<T>> WhereAsync(string where, CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        database.QueryAsync($"SELECT {columns} FROM {table} WHERE {where}", read, cancellationToken, parameters);

    public async Task<T?> FirstAsync(string where, CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        (await WhereAsync(where, cancellationToken, parameters)).FirstOrDefault();

    public async ValueTask<long> CountAsync(CancellationToken cancellationToken) =>
        Convert.ToInt64(await database.ScalarAsync($"SELECT COUNT(*) FROM {table}", cancellationToken), CultureInfo.InvariantCulture);

    public async ValueTask<long> CountAsync<TResult>(Func<IQueryable<T>, IQueryable<TResult>> query, CancellationToken cancellationToken) =>
        query((await AllAsync(cancellationToken)).AsQueryable()).LongCount();

    public async ValueTask<TResult?> GetAsync<TState, TResult>(Func<IQueryable<T>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken) =>
        query((await AllAsync(cancellationToken)).AsQueryable(), state).FirstOrDefault();

    public async IAsyncEnumerable<T> ListAsync(int? count, int? offset, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var row in await WhereAsync($"1 = 1 ORDER BY {order} LIMIT @count OFFSET @offset", cancellationToken,
            ("@count", (long)(count ?? int.MaxValue)), ("@offset", (long)(offset ?? 0))))
        {
            yield return row;
        }
    }

    public async IAsyncEnumerable<TResult> ListAsync<TState, TResult>(Func<IQueryable<T>, TState, IQueryable<TResult>> query, TState state,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var result in query((await AllAsync(cancellationToken)).AsQueryable(), state))
        {
            yield return result;
        }
    }

    /// <summary>The rows a query finds, one at a time, for OpenIddict's enumerating look-ups.</summary>
    public async IAsyncEnumerable<T> StreamAsync(string where, (string, object?)[] parameters, Func<T, bool>? filter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var row in await WhereAsync(where, cancellationToken, parameters))
        {
            if (filter is null || filter(row))
            {
                yield return row;
            }
        }
    }

    /// <summary>Deletes the row as it was read; a row changed or removed since is a concurrency failure.</summary>
    public async ValueTask DeleteAsync(string? id, string concurrencyToken, CancellationToken cancellationToken)
    {
        if (await database.ExecuteAsync($"DELETE FROM {table} WHERE id = @id AND concurrency_token = @ct", cancellationToken, ("@id", id), ("@ct", concurrencyToken)) == 0)
        {
            throw new OpenIddictExceptions.ConcurrencyException($"The {table} row was changed or removed by someone else; read it again.");
        }
    }

    /// <summary>
    /// Runs an update guarded by <c>@expected</c>, the entity's concurrency token as read, after giving the entity a new
    /// one; restores the old token and fails when the row changed or went since.
    /// </summary>
    public async ValueTask UpdateAsync(string sql, Func<string> current, Action<string> assign, Func<(string, object?)[]> parameters, CancellationToken cancellationToken)
    {
        var expected = current();
        assign(Guid.NewGuid().ToString("N"));
        if (await database.ExecuteAsync(sql, cancellationToken, [.. parameters(), ("@expected", expected)]) == 0)
        {
            assign(expected);
            throw new OpenIddictExceptions.ConcurrencyException($"The {table} row was changed or removed by someone else; read it again.");
        }
    }

    private Task<List<T>> AllAsync(CancellationToken cancellationToken) => WhereAsync($"1 = 1 ORDER BY {order}", cancellationToken);
}
