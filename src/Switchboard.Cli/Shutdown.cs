using System.Runtime.InteropServices;

namespace Switchboard.Cli;

/// <summary>Turns Ctrl+C (SIGINT), SIGTERM and SIGQUIT into a cancelled <see cref="Token"/> so a command stops cleanly and exits 0.
/// A second signal while stopping is not intercepted, so the runtime's default (termination) applies.</summary>
public sealed class Shutdown : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly List<PosixSignalRegistration> _registrations = [];

    public Shutdown()
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT })
        {
            try
            {
                _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
            }
            catch (PlatformNotSupportedException)
            {
                // SIGQUIT does not exist everywhere; the others do.
            }
        }
    }

    /// <summary>Cancelled when the process is asked to stop.</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>The signal that asked the process to stop, if any.</summary>
    public PosixSignal? Signal { get; private set; }

    private void OnSignal(PosixSignalContext context)
    {
        if (_cts.IsCancellationRequested)
        {
            return; // second signal: let the default action end the process
        }

        context.Cancel = true;
        Signal = context.Signal;
        _cts.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _cts.Dispose();
    }
}
