using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Bridge;

/// <summary>Real brokers (Kestrel on 127.0.0.1, port 0 unless a test restarts one on its port), real clients, and
/// cleanup in reverse order; a test fails if a broker logged an error.</summary>
public abstract class BridgeTestBase : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _cleanup = [];
    private readonly RecordingLoggerProvider _brokerLog = new();
    private int _clients;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected T Keep<T>(T disposable)
        where T : IAsyncDisposable
    {
        _cleanup.Add(disposable);
        return disposable;
    }

    protected async Task<BrokerHost> StartBrokerAsync(int port = 0) =>
        Keep(await BrokerHost.StartAsync(new BrokerOptions { Port = port }, logging => logging.AddProvider(_brokerLog), cancellationToken: Ct));

    protected async Task<BusClient> ConnectAsync(BrokerHost host) => await ConnectAsync(host.TcpAddress!);

    protected async Task<BusClient> ConnectAsync(string address) =>
        Keep(await BusClient.ConnectAsync(address, new BusClientOptions
        {
            ClientName = $"bridge-test-{Interlocked.Increment(ref _clients)}",
            ReconnectDelay = TimeSpan.FromMilliseconds(50),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
        }, Ct));

    protected LocalBus NewLocal() => Keep(new LocalBus());

    protected async Task<BusBridge> BridgeAsync(IBus bus, IBus other, BridgeOptions options) =>
        Keep(await bus.BridgeAsync(other, options, Ct));

    protected static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Reads exactly <paramref name="count"/> messages, leaving presence out.</summary>
    protected static async Task<List<BusMessage>> ReadAsync(IListenerQueue queue, int count)
    {
        var messages = new List<BusMessage>();
        while (messages.Count < count)
        {
            var message = await queue.NextAsync();
            if (!NameRules.IsReserved(message.Event))
            {
                messages.Add(message);
            }
        }

        return messages;
    }

    /// <summary>What the queue holds now, presence left out.</summary>
    protected static List<BusMessage> Drain(IListenerQueue queue)
    {
        var messages = new List<BusMessage>();
        while (queue.TryRead(out var message))
        {
            if (!NameRules.IsReserved(message.Event))
            {
                messages.Add(message);
            }
        }

        return messages;
    }

    protected static async Task WaitForSenderAsync(IBus bus, string name, bool online = true)
    {
        var deadline = DateTime.UtcNow + Wait.Timeout;
        while ((await bus.GetSendersAsync(Ct)).Any(s => s.Name == name) != online)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for sender '{name}' to be {(online ? "online" : "gone")}.");
            await Task.Delay(10, Ct);
        }
    }

    public ValueTask InitializeAsync() => default;

    public virtual async ValueTask DisposeAsync()
    {
        for (var i = _cleanup.Count - 1; i >= 0; i--)
        {
            await _cleanup[i].DisposeAsync();
        }

        Assert.True(_brokerLog.Errors.Count == 0, "A broker logged errors: " + string.Join(Environment.NewLine, _brokerLog.Errors));
        GC.SuppressFinalize(this);
    }
}
