namespace Switchboard.Tests.Contract;

public abstract partial class BusContractTests
{
    [Fact]
    public async Task Sender_names_are_unique_across_the_whole_bus()
    {
        var a = await NewBusAsync();
        var b = await NewBusAsync();
        await using var first = await a.AddSenderAsync("unique", ["tick"], cancellationToken: Ct);
        var sameParticipant = await Assert.ThrowsAsync<SwitchboardException>(async () => await a.AddSenderAsync("unique", ["tock"], cancellationToken: Ct));
        var otherParticipant = await Assert.ThrowsAsync<SwitchboardException>(async () => await b.AddSenderAsync("unique", ["tock"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.SenderExists, sameParticipant.Code);
        Assert.Equal(ErrorCodes.SenderExists, otherParticipant.Code);
        Assert.Contains("'unique' is already taken", otherParticipant.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_removed_sender_frees_its_name_and_can_no_longer_trigger()
    {
        var a = await NewBusAsync();
        var b = await NewBusAsync();
        var first = await a.AddSenderAsync("reused", ["tick"], cancellationToken: Ct);
        await first.DisposeAsync();
        var closed = await Assert.ThrowsAsync<SwitchboardException>(async () => await first.TriggerAsync("tick", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.Closed, closed.Code);
        await using var second = await b.AddSenderAsync("reused", ["tick"], cancellationToken: Ct);
        Assert.Equal("reused", second.Name);
    }

    [Fact]
    public async Task Triggering_an_undeclared_event_is_refused_naming_what_was_declared()
    {
        var bus = await NewBusAsync();
        await using var sender = await bus.AddSenderAsync("timer", ["tick", "#temperature"], cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<SwitchboardException>(async () => await sender.TriggerAsync("tock", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.UndeclaredEvent, error.Code);
        Assert.Contains("tick, #temperature", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_multi_event_trigger_with_one_undeclared_event_triggers_nothing()
    {
        var bus = await NewBusAsync();
        await using var sender = await bus.AddSenderAsync("multi", ["#a", "#b"], cancellationToken: Ct);
        await using var queue = await bus.ListenAsync("multi", null, cancellationToken: Ct);
        await Assert.ThrowsAsync<SwitchboardException>(async () => await sender.TriggerAsync(["#a", "#nope"], cancellationToken: Ct));
        await SettleAsync(bus);
        Assert.DoesNotContain(Drain(queue), m => !m.Event.StartsWith("#connect", StringComparison.Ordinal));
    }
}
