using Switchboard.Tests.Support;

namespace Switchboard.Tests.Contract;

/// <summary>Producers change their topics while they live (seed 000's register/deregister_result_producer).</summary>
public abstract partial class BusContractTests
{
    private static ProducerHandler Answer(string what) => (request, _) => ValueTask.FromResult(Payload.Json($"{what}:{request.Topic}"));

    [Fact]
    public async Task A_producer_adds_and_drops_topics_while_it_lives()
    {
        var application = await NewBusAsync();
        var caller = await NewBusAsync();
        await using var producer = await application.AddProducerAsync(["weather"], Answer("p1"), new ProducerOptions { Name = "p1" }, Ct);

        await producer.AddTopicAsync("traffic", Ct);
        await producer.AddTopicAsync("traffic", Ct); // already there: nothing changes
        Assert.Equal(["weather", "traffic"], producer.Topics);
        var traffic = await GatherAllAsync(caller, "traffic");
        Assert.Equal(["p1:traffic"], traffic);

        await producer.RemoveTopicAsync("weather", Ct);
        Assert.Equal(["traffic"], producer.Topics);
        var weather = caller.GatherAsync("weather", default, TimeSpan.FromMilliseconds(300), cancellationToken: Ct);
        var summary = await weather.Summary.WithinAsync("the weather summary");
        Assert.Empty(summary.Answered);
        Assert.Empty(summary.Missing);

        await producer.RemoveTopicAsync("traffic", Ct);
        Assert.Empty(producer.Topics);
        await producer.AddTopicAsync("weather", Ct);
        Assert.Equal(["p1:weather"], await GatherAllAsync(caller, "weather"));
        var bad = await Assert.ThrowsAsync<InvalidNameException>(async () => await producer.AddTopicAsync("bad topic", Ct));
        Assert.Contains("a space", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Changing_a_producers_other_topics_never_makes_it_miss_a_gather_on_the_topic_it_keeps()
    {
        var application = await NewBusAsync();
        var caller = await NewBusAsync();
        await using var producer = await application.AddProducerAsync(["steady"], Answer("p1"), new ProducerOptions { Name = "steady-p" }, Ct);
        using var stop = new CancellationTokenSource();
        var changes = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested && i < 200; i++)
            {
                await producer.AddTopicAsync($"extra{i % 3}", Ct);
                await producer.RemoveTopicAsync($"extra{(i + 1) % 3}", Ct);
            }
        }, Ct);

        for (var i = 0; i < 20; i++)
        {
            var call = caller.GatherAsync("steady", default, TimeSpan.FromSeconds(5), cancellationToken: Ct);
            var summary = await call.Summary.WithinAsync("a steady gather");
            Assert.Equal(["steady-p"], summary.Answered);
        }

        await stop.CancelAsync();
        await changes.WithinAsync("the topic changes");
        Assert.Contains("steady", producer.Topics);
    }

    [Fact]
    public async Task A_removed_producer_cannot_change_its_topics()
    {
        var application = await NewBusAsync();
        var producer = await application.AddProducerAsync(["gone"], Answer("p"), cancellationToken: Ct);
        await producer.DisposeAsync();
        var error = await Assert.ThrowsAsync<SwitchboardException>(async () => await producer.AddTopicAsync("more", Ct));
        Assert.Equal(ErrorCodes.Closed, error.Code);
    }

    private static async Task<List<string>> GatherAllAsync(IBus caller, string topic)
    {
        var call = caller.GatherAsync(topic, default, TimeSpan.FromSeconds(5), cancellationToken: Ct);
        var results = new List<string>();
        await foreach (var result in call.WithCancellation(Ct))
        {
            results.Add(result.Data.As<string>()!);
        }

        return results;
    }
}
