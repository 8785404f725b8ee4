using System.Runtime.InteropServices;
using Switchboard.Server;
using Switchboard.Server.Security;

namespace Switchboard.Cli.Commands;

/// <summary>
/// <c>serve --config</c>'s reload without restart: when the file changes (or on SIGHUP, as nats-server does) it is read
/// again and given to <see cref="Broker.Reload"/>. A file the broker cannot use is refused in one stderr line naming the
/// problem, and the old configuration stays.
/// </summary>
internal sealed class ConfigReloader : IDisposable
{
    // Editors write a file in several steps (truncate, write, rename): wait for them to settle before reading.
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(250);

    private readonly Func<SecurityOptions> _reread;
    private readonly Broker _broker;
    private readonly FileSystemWatcher _watcher;
    private readonly PosixSignalRegistration? _hangup;
    private readonly Timer _timer;
    private readonly Lock _reloading = new();

    public ConfigReloader(string file, Func<SecurityOptions> reread, Broker broker)
    {
        _reread = reread;
        _broker = broker;
        _timer = new Timer(_ => Reload("the file changed"));
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(file)!, Path.GetFileName(file))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
        };
        _watcher.Changed += (_, _) => Soon();
        _watcher.Created += (_, _) => Soon();
        _watcher.Renamed += (_, _) => Soon();
        _watcher.EnableRaisingEvents = true;
        if (!OperatingSystem.IsWindows())
        {
            _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // SIGHUP would end the process otherwise
                Reload("SIGHUP");
            });
        }
    }

    private void Soon() => _timer.Change(Settle, Timeout.InfiniteTimeSpan);

    private void Reload(string why)
    {
        lock (_reloading)
        {
            try
            {
                var revoked = _broker.Reload(_reread());
                Console.Error.WriteLine($"config reloaded ({why}): {_broker.DescribeSecurity()}; {revoked} connection(s) closed (identity_revoked, or forbidden: they held what the new rules refuse)");
            }
            // InvalidOperationException: a broker started without identities cannot take them on live (its connections were
            // admitted unchecked); this runs on a timer or a signal, where an escaping exception would end the process.
            catch (Exception ex) when (ex is SwitchboardException or CliException or IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                Console.Error.WriteLine($"config reload refused ({why}), the old configuration stays: {ex.Message}");
            }
        }
    }

    public void Dispose()
    {
        _hangup?.Dispose();
        _watcher.Dispose();
        _timer.Dispose();
    }
}
