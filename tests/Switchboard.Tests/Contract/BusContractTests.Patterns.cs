using Switchboard.Tests.Support;

namespace Switchboard.Tests.Contract;

/// <summary>Senders that declare channel-event patterns (seed 002 publishes to any channel id it likes).</summary>
public abstract partial class BusContractTests
{
    [Fact]
    public async Task A_sender_that_declares_a_channel_pattern_triggers_any_concrete_channel_event_it_matches()
    {
        var publisher = await NewBusAsync();
        var subscriber = await NewBusAsync();
        await using var alice = await subscriber.ListenAsync(null, "#direct.alice", cancellationToken: Ct);
        await using var rooms = await subscriber.ListenAsync(null, "#rooms.>", cancellationToken: Ct);
        await using var everything = await subscriber.ListenAsync("bot", null, cancellationToken: Ct);
        await using var bot = await publisher.AddSenderAsync("bot", ["#direct.>", "#rooms.*.chat", "status"], cancellationToken: Ct);

        await bot.TriggerAsync("#direct.alice", Payload.Json(1), cancellationToken: Ct);
        await bot.TriggerAsync("#direct.bob.inbox", Payload.Json(2), cancellationToken: Ct);
        await bot.TriggerAsync("#rooms.lobby.chat", Payload.Json(3), cancellationToken: Ct);
        await bot.TriggerAsync(["#direct.alice", "#rooms.kitchen.chat"], Payload.Json(4), cancellationToken: Ct); // seed 002's put(direct_channels, msg)
        await bot.TriggerAsync("status", Payload.Json(5), cancellationToken: Ct);

        var first = (await alice.NextAsync()).As<int>();
        var second = (await alice.NextAsync()).As<int>();
        Assert.Equal((1, 4), (first, second));
        var roomMessages = new[] { await rooms.NextAsync(), await rooms.NextAsync() };
        Assert.Equal(["#rooms.lobby.chat=3", "#rooms.kitchen.chat=4"], roomMessages.Select(m => $"{m.Event}={m.As<int>()}"));
        var all = new List<string>();
        while (all.Count < 6)
        {
            var m = await everything.NextAsync();
            if (m.Event != "#connect")
            {
                all.Add($"{m.Sender}/{m.Event}={m.As<int>()}");
            }
        }

        Assert.Equal(["bot/#direct.alice=1", "bot/#direct.bob.inbox=2", "bot/#rooms.lobby.chat=3", "bot/#direct.alice=4", "bot/#rooms.kitchen.chat=4", "bot/status=5"], all);
    }

    [Fact]
    public async Task A_trigger_outside_the_declared_patterns_naming_a_wildcard_or_a_presence_event_is_refused()
    {
        var bus = await NewBusAsync();
        await using var bot = await bus.AddSenderAsync("pattern-bot", ["#rooms.*.chat", "#>"], cancellationToken: Ct);
        await using var strict = await bus.AddSenderAsync("strict-bot", ["#rooms.*.chat"], cancellationToken: Ct);

        var outside = await Assert.ThrowsAsync<SwitchboardException>(async () => await strict.TriggerAsync("#rooms.lobby", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.UndeclaredEvent, outside.Code);
        Assert.Contains("#rooms.*.chat", outside.Message, StringComparison.Ordinal);
        var wildcard = await Assert.ThrowsAsync<InvalidNameException>(async () => await bot.TriggerAsync("#rooms.*.chat", cancellationToken: Ct));
        Assert.Contains("never a wildcard", wildcard.Message, StringComparison.Ordinal);
        var presence = await Assert.ThrowsAsync<SwitchboardException>(async () => await bot.TriggerAsync("#connect", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.ReservedName, presence.Code);
        var targeted = await Assert.ThrowsAsync<SwitchboardException>(async () => await bot.TriggerAsync("rooms.lobby.chat", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.UndeclaredEvent, targeted.Code);
    }

    [Fact]
    public async Task Targeted_events_cannot_be_declared_as_patterns()
    {
        var bus = await NewBusAsync();
        var error = await Assert.ThrowsAsync<InvalidNameException>(async () => await bus.AddSenderAsync("sensor", ["readings.*"], cancellationToken: Ct));
        Assert.Contains("only channel events", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidNameException>(async () => await bus.AddSenderAsync("sensor", ["#readings.>.x"], cancellationToken: Ct));
    }

    [Fact]
    public async Task A_sender_declares_at_most_the_stated_number_of_events()
    {
        var bus = await NewBusAsync();
        var tooMany = Enumerable.Range(0, NameRules.MaxDeclaredEvents + 1).Select(i => $"#e{i}").ToArray();
        var error = await Assert.ThrowsAsync<SwitchboardException>(async () => await bus.AddSenderAsync("greedy", tooMany, cancellationToken: Ct));
        Assert.Equal(ErrorCodes.InvalidArgument, error.Code);
        Assert.Contains($"at most {NameRules.MaxDeclaredEvents}", error.Message, StringComparison.Ordinal);
        await using var full = await bus.AddSenderAsync("greedy", tooMany[..NameRules.MaxDeclaredEvents], cancellationToken: Ct);
        Assert.Equal(NameRules.MaxDeclaredEvents, full.Events.Count);
    }

    [Fact]
    public async Task Presence_lists_the_declared_patterns()
    {
        var bus = await NewBusAsync();
        var other = await NewBusAsync();
        await using var presence = await other.ListenAsync("chatty", "#connect", cancellationToken: Ct);
        await using var chatty = await bus.AddSenderAsync("chatty", ["#direct.>", "hello"], cancellationToken: Ct);
        var connect = await presence.NextAsync();
        Assert.Equal(["#direct.>", "hello"], connect.Data.As<System.Text.Json.JsonElement>().GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        var listed = Assert.Single(await other.GetSendersAsync(Ct), s => s.Name == "chatty");
        Assert.Equal(["#direct.>", "hello"], listed.Events);
    }
}
