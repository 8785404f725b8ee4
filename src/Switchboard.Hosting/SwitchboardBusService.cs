using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Switchboard.Hosting;

/// <summary>Where the hosted bus is in its life.</summary>
public enum HostedBusState
{
    /// <summary>Made, not started: a client is not connected yet.</summary>
    Created,

    /// <summary>Started: a client made its first connection (or, with <c>RetryInitialConnect</c>, is trying).</summary>
    Running,

    /// <summary>Stopped: drained and disposed.</summary>
    Stopped,
}

/// <summary>
/// Owns the application's <see cref="IBus"/> for the host: made from <see cref="SwitchboardOptions"/> when the host
/// starts (bad options stop the start here, with <c>invalid_options</c>), connected before any hosted service's
/// <c>StartAsync</c> (so they may use it at once), and drained and disposed after every hosted service's
/// <c>StopAsync</c> (so they may still trigger while stopping).
/// </summary>
public sealed class SwitchboardBusService : IHostedLifecycleService, IAsyncDisposable
{
    private readonly SwitchboardOptions _options;
    private readonly ILogger _log;
    private int _state;

    /// <summary>Makes the bus (not connected yet) from the options; DI calls this.</summary>
    /// <param name="options">The options; read here, so a validation failure surfaces when the host starts.</param>
    /// <param name="environment">Gives the default client name (the application's name).</param>
    /// <param name="loggerFactory">Where the bus logs.</param>
    /// <param name="time">The clock (a fake one in tests); the system clock when none is registered.</param>
    public SwitchboardBusService(IOptions<SwitchboardOptions> options, IHostEnvironment? environment = null, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = Read(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        _log = loggerFactory.CreateLogger("Switchboard.Hosting");
        var bus = BusOptions.Default with
        {
            LoggerFactory = loggerFactory,
            TimeProvider = time ?? TimeProvider.System,
            DefaultRequestTimeout = _options.DefaultRequestTimeout,
        };
        var addresses = _options.BrokerAddresses;
        if (addresses.Count == 0)
        {
            Bus = new LocalBus(bus);
            return;
        }

        Client = new BusClient(addresses, _options.ToClientOptions(environment?.ApplicationName ?? "switchboard-app", bus));
        Bus = Client;
    }

    /// <summary>The application's bus: a <see cref="LocalBus"/>, or <see cref="Client"/>.</summary>
    public IBus Bus { get; }

    /// <summary>The client of the broker, when the options name one; null for an in-process bus.</summary>
    public BusClient? Client { get; }

    /// <summary>Where the bus is in its life.</summary>
    public HostedBusState State => (HostedBusState)Volatile.Read(ref _state);

    /// <summary>The options in force.</summary>
    public SwitchboardOptions Options => _options;

    private static SwitchboardOptions Read(IOptions<SwitchboardOptions> options)
    {
        try
        {
            return options.Value;
        }
        catch (OptionsValidationException ex)
        {
            throw new SwitchboardException(ErrorCodes.InvalidOptions, $"Switchboard's options are invalid, so the host cannot start: {string.Join(" ", ex.Failures)}", ex);
        }
    }

    /// <summary>Connects a client (fails the start with <c>connect_failed</c> when no broker answers, unless
    /// <see cref="SwitchboardOptions.RetryInitialConnect"/>).</summary>
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (Client is not null)
        {
            await Client.ConnectAsync(cancellationToken);
        }

        Volatile.Write(ref _state, (int)HostedBusState.Running);
        _log.BusStarted(Client is null ? "in-process" : "client", Client?.ConnectedAddress ?? _options.Broker ?? "LocalBus");
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Drains (what was triggered reaches the broker, up to <see cref="SwitchboardOptions.DrainTimeout"/>) and disposes the bus.</summary>
    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (State == HostedBusState.Stopped)
        {
            return;
        }

        using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        drain.CancelAfter(_options.DrainTimeout);
        try
        {
            await Bus.FlushAsync(drain.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SwitchboardException)
        {
            _log.DrainIncomplete(_options.DrainTimeout, ex.Message);
        }

        await DisposeAsync();
        _log.BusStopped();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _state, (int)HostedBusState.Stopped);
        await Bus.DisposeAsync();
    }
}
