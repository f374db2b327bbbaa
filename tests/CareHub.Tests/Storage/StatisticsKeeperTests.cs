using CareHub.Storage;

namespace CareHub.Tests.Storage;

public sealed class StatisticsKeeperTests
{
    [Fact]
    public async Task a_background_refresh_that_fails_is_counted_with_its_message_and_the_next_batch_of_writes_tries_again()
    {
        var attempts = 0;
        await using var keeper = new StatisticsKeeper((_, _) =>
        {
            Interlocked.Increment(ref attempts);
            throw new InvalidOperationException("database is locked");
        }, every: 10);

        keeper.Written(10);
        await UntilAsync(() => keeper.Failures.Failures == 1, "the first failure is counted");
        var (_, at, message) = keeper.Failures;
        Assert.NotNull(at);
        Assert.Equal("database is locked", message);
        Assert.Equal(0, keeper.Runs);

        keeper.Written(10);
        await UntilAsync(() => keeper.Failures.Failures == 2, "the next batch of writes tries again");
        Assert.Equal(2, Volatile.Read(ref attempts));
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting until {what}.");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }
}
