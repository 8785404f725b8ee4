using System.Text.Json;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Contract;

public abstract partial class BusContractTests
{
    [Fact]
    public async Task The_bus_raises_connect_and_disconnect_for_every_sender()
    {
        var watcher = await NewBusAsync();
        var app = await NewBusAsync();
        await using var all = await watcher.ListenAsync(null, "#connect", cancellationToken: Ct);
        await using var gone = await watcher.ListenAsync(null, "#disconnect", cancellationToken: Ct);
        await using var justThermo = await watcher.ListenAsync("thermo", "#connect", cancellationToken: Ct);

        var other = await app.AddSenderAsync("other", ["x"], cancellationToken: Ct);
        var thermo = await app.AddSenderAsync("thermo", ["#temperature", "reading"], new() { ["get"] = (_, _) => ValueTask.FromResult(Payload.Empty) }, cancellationToken: Ct);
        var connected = new[] { await all.NextAsync(), await all.NextAsync() };
        Assert.Equal(["other", "thermo"], connected.Select(m => m.Sender).Order());
        var thermoInfo = JsonDocument.Parse(connected.Single(m => m.Sender == "thermo").Data.Bytes).RootElement;
        Assert.Equal(["#temperature", "reading"], thermoInfo.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["get"], thermoInfo.GetProperty("requests").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("thermo", (await justThermo.NextAsync()).Sender);

        await thermo.DisposeAsync();
        var left = await gone.NextAsync();
        Assert.Equal(("thermo", "#disconnect"), (left.Sender, left.Event));
        Assert.Equal("closed", JsonDocument.Parse(left.Data.Bytes).RootElement.GetProperty("reason").GetString());
        await other.DisposeAsync();
        Assert.Equal("other", (await gone.NextAsync()).Sender);
        await SettleAsync(watcher);
        Assert.Empty(Drain(justThermo));
    }

    [Fact]
    public async Task Senders_online_are_listed_with_their_events_and_requests()
    {
        var bus = await NewBusAsync();
        var asker = await NewBusAsync();
        await using var a = await bus.AddSenderAsync("alpha", ["tick", "#temp"], new() { ["get_ticks"] = (_, _) => ValueTask.FromResult(Payload.Empty) }, cancellationToken: Ct);
        var b = await bus.AddSenderAsync("beta", ["x"], cancellationToken: Ct);
        var senders = await asker.GetSendersAsync(Ct);
        var alpha = Assert.Single(senders, s => s.Name == "alpha");
        Assert.Equal(["tick", "#temp"], alpha.Events);
        Assert.Equal(["get_ticks"], alpha.Requests);
        Assert.Contains(senders, s => s.Name == "beta");
        await b.DisposeAsync();
        await Wait.UntilAsync(() => !asker.GetSendersAsync(Ct).AsTask().Result.Any(s => s.Name == "beta"), "beta is no longer listed");
    }

    [Fact]
    public async Task A_dead_participant_loses_its_senders_and_fires_their_last_wills()
    {
        var watcher = await NewBusAsync();
        var doomed = await NewBusAsync();
        await using var wills = await watcher.ListenAsync(null, "#status", cancellationToken: Ct);
        await using var gone = await watcher.ListenAsync(null, "#disconnect", cancellationToken: Ct);
        await doomed.AddSenderAsync("device7", ["#status"], options: new SenderOptions { WillEvent = "#status", WillData = Payload.Utf8("offline") }, cancellationToken: Ct);
        await doomed.AddSenderAsync("device8", ["#status"], cancellationToken: Ct);

        await KillAsync(doomed);

        var will = await wills.NextAsync();
        Assert.Equal(("device7", "#status", "offline"), (will.Sender, will.Event, will.Data.ToString()));
        var left = new[] { await gone.NextAsync(), await gone.NextAsync() };
        Assert.Equal(["device7", "device8"], left.Select(m => m.Sender).Order());
        Assert.All(left, m => Assert.Equal("connection_lost", JsonDocument.Parse(m.Data.Bytes).RootElement.GetProperty("reason").GetString()));
        Assert.DoesNotContain(await watcher.GetSendersAsync(Ct), s => s.Name.StartsWith("device", StringComparison.Ordinal));
        await SettleAsync(watcher);
        Assert.Empty(Drain(wills));
    }

    [Fact]
    public async Task A_sender_removed_cleanly_does_not_fire_its_last_will()
    {
        var bus = await NewBusAsync();
        await using var wills = await bus.ListenAsync(null, "#status", cancellationToken: Ct);
        var sender = await bus.AddSenderAsync("tidy", ["#status"], options: new SenderOptions { WillEvent = "#status", WillData = Payload.Utf8("offline") }, cancellationToken: Ct);
        await sender.DisposeAsync();
        await SettleAsync(bus);
        Assert.Empty(Drain(wills));
    }

    [Fact]
    public async Task A_last_will_must_be_a_declared_event()
    {
        var bus = await NewBusAsync();
        var error = await Assert.ThrowsAsync<SwitchboardException>(async () => await bus.AddSenderAsync("w", ["#a"], options: new SenderOptions { WillEvent = "#b" }, cancellationToken: Ct));
        Assert.Equal(ErrorCodes.UndeclaredEvent, error.Code);
    }

    [Fact]
    public async Task A_new_listener_receives_the_retained_value_at_once()
    {
        var bus = await NewBusAsync();
        var late = await NewBusAsync();
        await using var thermo = await bus.AddSenderAsync("thermo", ["#temp", "humidity"], cancellationToken: Ct);
        await thermo.TriggerAsync("#temp", Payload.Json(20), retain: true, cancellationToken: Ct);
        await thermo.TriggerAsync("#temp", Payload.Json(21), retain: true, cancellationToken: Ct);
        await thermo.TriggerAsync("humidity", Payload.Json(50), cancellationToken: Ct);
        await bus.FlushAsync(Ct);

        await using var queue = await late.ListenAsync(null, "#temp", cancellationToken: Ct);
        Assert.Equal(21, (await queue.NextAsync()).As<int>());
        await using var humidity = await late.ListenAsync("thermo", "humidity", cancellationToken: Ct);

        await thermo.TriggerAsync("#temp", Payload.Empty, retain: true, cancellationToken: Ct); // clears it
        Assert.True((await queue.NextAsync()).Data.IsEmpty);
        await using var afterClear = await late.ListenAsync(null, "#temp", cancellationToken: Ct);
        await SettleAsync(late);
        Assert.Empty(Drain(afterClear));
        Assert.Empty(Drain(humidity));
    }

    [Fact]
    public async Task A_retained_value_outlives_its_sender_as_in_mqtt()
    {
        var device = await NewBusAsync();
        var late = await NewBusAsync();
        var thermo = await device.AddSenderAsync("gone-thermo", ["#temp"], cancellationToken: Ct);
        await thermo.TriggerAsync("#temp", Payload.Json(19), retain: true, cancellationToken: Ct);
        await thermo.DisposeAsync();
        await device.FlushAsync(Ct);

        await using var queue = await late.ListenAsync("gone-thermo", "#temp", cancellationToken: Ct);
        Assert.Equal(19, (await queue.NextAsync()).As<int>());
    }
}
