using System.Data.Common;
using CareHub.Storage;
using CareHub.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace CareHub.Server.SignIn.Storage.Sqlite;

/// <summary>
/// The embedded sign-in store: its own SQLite file (<c>signin.db</c> beside the record's <c>carehub.db</c>), in
/// write-ahead-log mode, so issuing a token never queues behind the record's single writer. One process owns the file,
/// so writes queue on an in-process lock.
/// </summary>
public sealed class SqliteSignInDatabase : SignInDatabase
{
    /// <summary>The file name of the sign-in store inside the data folder.</summary>
    public const string FileName = "signin.db";

    private readonly SqliteWriter writer;

    public SqliteSignInDatabase(string path, bool fullSync = false)
    {
        writer = new SqliteWriter(path, fullSync, foreignKeys: true);
    }

    public override string Backend => "sqlite";

    public override ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) => writer.OpenAsync(cancellationToken);

    public override Task<SqlWriteScope> BeginWriteAsync(CancellationToken cancellationToken) => writer.BeginWriteAsync(cancellationToken);

    /// <summary>SQLITE_CONSTRAINT (19): a unique key that exists.</summary>
    public override bool IsUniqueViolation(DbException exception) => exception is SqliteException { SqliteErrorCode: 19 };

    public override ValueTask DisposeAsync()
    {
        writer.Dispose();
        return ValueTask.CompletedTask;
    }
}
