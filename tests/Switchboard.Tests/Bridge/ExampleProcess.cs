using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Threading.Channels;

namespace Switchboard.Tests.Bridge;

/// <summary>
/// examples/Switchboard.Examples.Bridge run as a real child process (<c>dotnet Switchboard.Examples.Bridge.dll ARGS</c>):
/// stdout read line by line, commands written to stdin, every wait with a deadline; disposing closes stdin, waits for
/// it to exit, and kills it by its PID only if it is still running.
/// </summary>
internal sealed class ExampleProcess : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _transcript = new();
    private readonly Task _reading;

    private ExampleProcess(Process process)
    {
        _process = process;
        _reading = Task.WhenAll(PumpAsync(process.StandardOutput, _stdout, "out"), PumpAsync(process.StandardError, null, "err"));
    }

    public int Id => _process.Id;

    public string Transcript
    {
        get
        {
            lock (_transcript)
            {
                return _transcript.ToString();
            }
        }
    }

    public static ExampleProcess Start(params string[] args) => StartDll(FindDll(Path.Combine("examples", "Switchboard.Examples.Bridge"), "Switchboard.Examples.Bridge"), args);

    /// <summary><c>switchboard</c> itself (src/Switchboard.Cli), as a real child process.</summary>
    public static ExampleProcess StartCli(params string[] args) => StartDll(FindDll(Path.Combine("src", "Switchboard.Cli"), "Switchboard.Cli"), args);

    /// <summary>Ends the process with SIGKILL, as a crash would: nothing of it runs after.</summary>
    public void Kill() => _process.Kill();

    private static ExampleProcess StartDll(string dll, string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        return new ExampleProcess(Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    public async Task SendAsync(string command)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>The next stdout line; fails the test when none comes in time.</summary>
    public async Task<string> ReadLineAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            return await _stdout.Reader.ReadAsync(cts.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            Assert.Fail($"The bridge example printed nothing more within {Timeout.TotalSeconds} s (exited: {_process.HasExited}). So far:\n{Transcript}");
            throw;
        }
    }

    /// <summary>Reads lines until one starts with <paramref name="prefix"/>.</summary>
    public async Task<string> ReadUntilAsync(string prefix, List<string>? skipped = null)
    {
        while (true)
        {
            var line = await ReadLineAsync();
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line;
            }

            skipped?.Add(line);
        }
    }

    /// <summary>Closes stdin (the example then disposes its bridge and exits) and returns the exit code.</summary>
    public async Task<int> QuitAsync()
    {
        _process.StandardInput.Close();
        using var cts = new CancellationTokenSource(Timeout);
        await _process.WaitForExitAsync(cts.Token);
        await _reading.WaitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true); // this PID only: the child this test started
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }

        await _reading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _process.Dispose();
    }

    private async Task PumpAsync(StreamReader reader, Channel<string>? lines, string tag)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_transcript)
            {
                _transcript.Append(tag).Append(": ").Append(line).Append('\n');
            }

            lines?.Writer.TryWrite(line);
        }

        lines?.Writer.TryComplete();
    }

    /// <summary>PROJECT/bin/CONFIGURATION/net10.0/ASSEMBLY.dll, found from the repository root, in the configuration these
    /// tests were built in (the test project's references build it).</summary>
    private static string FindDll(string project, string assembly)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Switchboard.sln")))
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            throw new InvalidOperationException($"No Switchboard.sln above {AppContext.BaseDirectory}.");
        }

        var configuration = typeof(ExampleProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
        var dll = Path.Combine(directory.FullName, project, "bin", configuration, framework, assembly + ".dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: build {project} in {configuration} first.");
    }
}
