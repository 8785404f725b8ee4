using Switchboard.Server;

namespace Switchboard.Tests.Broker;

/// <summary>A refused credential is a clear error for the client and a refusal for the broker, not a protocol error.</summary>
public sealed class CredentialRefusalTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Refused_credentials_are_unauthorized_for_the_client_and_counted_as_refusals_not_protocol_errors()
    {
        var options = new BrokerOptions { Port = 0, Authenticate = (_, token) => token == "right" ? null : "unknown token" };
        await using var host = await BrokerHost.StartAsync(options, cancellationToken: Ct);

        var error = await Assert.ThrowsAsync<SwitchboardException>(() =>
            BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "intruder", Credentials = "wrong" }, Ct));
        Assert.Equal(ErrorCodes.ConnectFailed, error.Code);
        Assert.Contains("unknown token", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, host.Broker.AuthRefusals);
        Assert.Equal(0, host.Broker.ProtocolErrors);

        await using var welcome = await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "friend", Credentials = "right" }, Ct);
        Assert.True(welcome.IsConnected);
        Assert.Equal(1, host.Broker.AuthRefusals);
    }
}
