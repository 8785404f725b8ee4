using Switchboard.Server;
using Switchboard.Tests.Http;
using JsonLinesPeer = Switchboard.Tests.JsonLines.JsonLinesPeer;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Security;

/// <summary>The broker's system events (<c>#slow_consumer</c>, <c>#lame_duck</c>) belong to its own sender: no client, on
/// any surface and with or without identities, can declare them, name them as a will, or trigger them through a pattern.</summary>
public sealed class SystemEventTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("#slow_consumer")]
    [InlineData("#lame_duck")]
    public async Task No_client_may_declare_a_system_event(string systemEvent)
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(new BrokerOptions { JsonLinesPort = 0 }, cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        var refused = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await client.AddSenderAsync("faker", [systemEvent], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.ReservedName, refused.Code);
        Assert.Contains("only the broker's own sender 'switchboard'", refused.Message, StringComparison.Ordinal);

        await using var script = await JsonLinesPeer.ConnectAsync(gateway.Host, Ct);
        await script.ErrorAsync($$"""{"op":"sender","name":"faker","events":["{{systemEvent}}"],"id":1}""", ErrorCodes.ReservedName, 1);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/senders", $$"""{"name":"faker","events":["{{systemEvent}}"]}""", Ct), 400, ErrorCodes.ReservedName);

        var taken = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await client.AddSenderAsync(Server.Broker.SystemSender, ["#x"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.SenderExists, taken.Code);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task A_pattern_sender_cannot_trigger_or_bequeath_a_system_event_but_triggers_the_rest()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var alerts = await host.Broker.Bus.ListenAsync(null, "#slow_consumer", cancellationToken: Ct);
        await using var others = await host.Broker.Bus.ListenAsync(null, "#other", cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        var errors = new List<SwitchboardException>();
        client.Error += (_, e) =>
        {
            lock (errors)
            {
                errors.Add(e);
            }
        };

        var will = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await client.AddSenderAsync("heir", ["#>"], options: new SenderOptions { WillEvent = "#slow_consumer" }, cancellationToken: Ct));
        Assert.Equal(ErrorCodes.ReservedName, will.Code);

        await using var bot = await client.AddSenderAsync("bot", ["#>"], cancellationToken: Ct);
        await bot.TriggerAsync("#slow_consumer", Payload.Utf8("""{"connection":"c1","policy":"disconnect"}"""), cancellationToken: Ct);
        await bot.TriggerAsync("#other", Payload.Utf8("1"), cancellationToken: Ct);
        Assert.Equal("bot", (await others.NextAsync()).Sender);
        await Wait.UntilAsync(() => { lock (errors) { return errors.Count == 1; } }, "the broker refuses the faked alert");
        Assert.Equal(ErrorCodes.ReservedName, errors[0].Code);
        Assert.False(alerts.TryRead(out _), "No faked #slow_consumer reached a listener.");
    }
}
