using Microsoft.Extensions.Logging;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Contract;

/// <summary>The contract suite against <see cref="BusClient"/>s connected to a real broker (Kestrel on a free port).</summary>
public abstract class RemoteBusContractTests : BusContractTests
{
    private readonly RecordingLoggerProvider _brokerLog = new();
    private BrokerHost? _host;
    private int _clients;

    protected BrokerHost Host => _host ?? throw new InvalidOperationException("No broker yet.");

    protected abstract BrokerOptions BrokerOptions();

    protected abstract string Address(BrokerHost host);

    /// <summary>The options of the <paramref name="name"/>d client (credentials, TLS trust, for fixtures that need them).</summary>
    protected virtual BusClientOptions ClientOptions(string name) => new() { ClientName = name };

    protected override async Task<IBus> CreateBusAsync()
    {
        _host ??= await BrokerHost.StartAsync(BrokerOptions(), logging => logging.AddProvider(_brokerLog), cancellationToken: Ct);
        return await BusClient.ConnectAsync(Address(_host), ClientOptions($"test-{++_clients}"), Ct);
    }

    protected override Task AbortAsync(IBus bus) => ((BusClient)bus).KillAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        Assert.True(_brokerLog.Errors.Count == 0, "The broker logged errors: " + string.Join(Environment.NewLine, _brokerLog.Errors));
    }
}

/// <summary>Over TCP on 127.0.0.1.</summary>
public sealed class TcpBusContractTests : RemoteBusContractTests
{
    protected override BrokerOptions BrokerOptions() => new() { Port = 0 };

    protected override string Address(BrokerHost host) => host.TcpAddress!;
}

/// <summary>Over a Unix socket.</summary>
public sealed class UnixSocketBusContractTests : RemoteBusContractTests, IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"sb-{Guid.NewGuid():N}.sock");

    protected override BrokerOptions BrokerOptions() => new() { Port = null, UnixSocketPath = _path };

    protected override string Address(BrokerHost host) => host.UnixAddress!;

    public void Dispose()
    {
        File.Delete(_path);
        GC.SuppressFinalize(this);
    }
}

/// <summary>Over WebSocket (the broker's HTTP port, <c>/ws</c>).</summary>
public sealed class WebSocketBusContractTests : RemoteBusContractTests
{
    protected override BrokerOptions BrokerOptions() => new() { Port = null, HttpPort = 0 };

    protected override string Address(BrokerHost host) => host.WebSocketAddress!;
}
