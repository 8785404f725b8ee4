using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Threading.Channels;

namespace Switchboard.Cli.Tests.Support;

/// <summary>
/// The switchboard command run as a real process (<c>dotnet Switchboard.Cli.dll ARGS</c>), or one of examples/ (<see cref="StartExample"/>).
/// Its stdout and stderr are read line by line as they come; every wait has a deadline; disposing kills it (by its PID) if it is still running.
/// </summary>
internal sealed class CliProcess : IAsyncDisposable
{
    /// <summary>Generous: a loaded 2-core CI machine starting several .NET processes at once must never trip it.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static readonly Lazy<string> Dll = new(FindDll);

    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly Channel<string> _stderr = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _transcript = new();
    private readonly Task _reading;

    private CliProcess(Process process, string commandLine)
    {
        _process = process;
        CommandLine = commandLine;
        _reading = Task.WhenAll(PumpAsync(process.StandardOutput, _stdout, "out"), PumpAsync(process.StandardError, _stderr, "err"));
    }

    public string CommandLine { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process printed so far, each line marked out/err (for failure messages).</summary>
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

    public static CliProcess Start(params string[] args) => Start(Dll.Value, "switchboard", closeInput: true, args);

    /// <summary>The switchboard command with stdout and stderr redirected (read here, as always) and these environment
    /// variables set (a null value removes one).</summary>
    public static CliProcess StartWithEnvironment(IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        Start("dotnet", Dll.Value, "switchboard", closeInput: true, args, environment);

    /// <summary>
    /// The switchboard command on a pseudo-terminal, as a person at a terminal runs it: util-linux's <c>script</c> gives it
    /// a terminal for stdout and stderr and copies everything written there (both streams, escape sequences and all, lines
    /// ending in CR LF) to its own stdout, read here. TERM is set so colour support is detected the same on every machine.
    /// </summary>
    public static CliProcess StartInTerminal(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        // 250 columns: wide enough that no line of a test is wrapped (a terminal nobody sized would report 0).
        var commandLine = "stty cols 250 rows 50; exec " + string.Join(' ', new[] { "dotnet", Dll.Value }.Concat(args).Select(ShellQuote));
        var withTerm = new Dictionary<string, string?>(environment) { ["TERM"] = "xterm-256color" };
        return Start("script", null, "switchboard (terminal)", closeInput: true, ["--quiet", "--return", "--flush", "--command", commandLine, "/dev/null"], withTerm, displayArgs: args);
    }

    private static string ShellQuote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The switchboard command with its stdin left open for <see cref="WriteLineAsync"/> until <see cref="CloseInput"/>.</summary>
    public static CliProcess StartWithInput(params string[] args) => Start(Dll.Value, "switchboard", closeInput: false, args);

    /// <summary>examples/PROJECT/bin/CONFIGURATION/net10.0/PROJECT.dll with ARGS; with <paramref name="closeInput"/> false,
    /// stdin stays open for <see cref="WriteLineAsync"/> until <see cref="CloseInput"/>.</summary>
    public static CliProcess StartExample(string project, bool closeInput, params string[] args) =>
        Start(BuiltDll(Path.Combine("examples", project), project), project, closeInput, args);

    /// <summary>tests/PROJECT/bin/CONFIGURATION/net10.0/PROJECT.dll (a helper program of the tests) with ARGS, stdin left
    /// open until <see cref="CloseInput"/>.</summary>
    public static CliProcess StartTestTool(string project, params string[] args) =>
        Start(BuiltDll(Path.Combine("tests", project), project), project, closeInput: false, args);

    /// <summary>Any program (an installed tool's command, say) with ARGS, read and killed like the others.</summary>
    public static CliProcess StartProgram(string program, string name, params string[] args) => Start(program, dll: null, name, closeInput: true, args);

    private static CliProcess Start(string dll, string name, bool closeInput, string[] args) => Start("dotnet", dll, name, closeInput, args);

    private static CliProcess Start(string program, string? dll, string name, bool closeInput, string[] args,
        IReadOnlyDictionary<string, string?>? environment = null, string[]? displayArgs = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        if (dll is not null)
        {
            info.ArgumentList.Add(dll);
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (variable, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(variable);
            }
            else
            {
                info.Environment[variable] = value;
            }
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        if (closeInput)
        {
            process.StandardInput.Close();
        }

        return new CliProcess(process, name + " " + string.Join(' ', displayArgs ?? args));
    }

    /// <summary>Writes one line to the process's stdin.</summary>
    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Ends the process's stdin (end of input).</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Reads stdout until a line starts with <paramref name="prefix"/>; returns it.</summary>
    public Task<string> WaitForOutAsync(string prefix, TimeSpan? timeout = null) => WaitForAsync(_stdout, "stdout", prefix, timeout);

    /// <summary>Reads stdout until a line contains <paramref name="text"/> (on a terminal a line may begin with escape
    /// sequences); returns it.</summary>
    public Task<string> WaitForOutContainingAsync(string text, TimeSpan? timeout = null) =>
        WaitForAsync(_stdout, $"a line containing '{text}' on stdout", line => line.Contains(text, StringComparison.Ordinal), timeout);

    /// <summary>Runs to the end: exit code, stdout and stderr.</summary>
    public static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        await using var process = Start(args);
        var code = await process.WaitForExitAsync();
        return (code, process.RemainingOut(), process.RemainingErr());
    }

    /// <summary>The next stdout line; fails the test when none comes in time or the output ended.</summary>
    public Task<string> ReadLineAsync(TimeSpan? timeout = null) => NextAsync(_stdout, "a line on stdout", timeout);

    /// <summary>Reads stderr until a line starts with <paramref name="prefix"/>; returns it.</summary>
    public Task<string> WaitForErrAsync(string prefix, TimeSpan? timeout = null) => WaitForAsync(_stderr, "stderr", prefix, timeout);

    private Task<string> WaitForAsync(Channel<string> lines, string stream, string prefix, TimeSpan? timeout) =>
        WaitForAsync(lines, $"a line starting with '{prefix}' on {stream}", line => line.StartsWith(prefix, StringComparison.Ordinal), timeout);

    private async Task<string> WaitForAsync(Channel<string> lines, string what, Func<string, bool> wanted, TimeSpan? timeout)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (true)
        {
            var line = await NextAsync(lines, what, deadline - DateTime.UtcNow);
            if (wanted(line))
            {
                return line;
            }
        }
    }

    /// <summary>Waits for the process to end (its output read to the end too) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            await _reading.WaitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Assert.Fail($"'{CommandLine}' did not exit within {(timeout ?? Timeout).TotalSeconds} s. So far:\n{Transcript}");
        }

        return _process.ExitCode;
    }

    /// <summary>The stdout lines not read yet (call after the process ended).</summary>
    public string RemainingOut() => Drain(_stdout);

    /// <summary>The stderr lines not read yet (call after the process ended).</summary>
    public string RemainingErr() => Drain(_stderr);

    /// <summary>SIGTERM, as a service manager or <c>kill</c> sends it (Process.Kill would be SIGKILL: not graceful).</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("kill did not start");
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
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

    private async Task<string> NextAsync(Channel<string> lines, string what, TimeSpan? timeout)
    {
        var wait = timeout ?? Timeout;
        using var cts = new CancellationTokenSource(wait > TimeSpan.Zero ? wait : TimeSpan.FromMilliseconds(1));
        try
        {
            return await lines.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Assert.Fail($"'{CommandLine}' printed no {what} within {wait.TotalSeconds:0.#} s. So far:\n{Transcript}");
            throw;
        }
        catch (ChannelClosedException)
        {
            var exited = _process.HasExited ? $" (it exited with {_process.ExitCode})" : "";
            Assert.Fail($"'{CommandLine}' closed its output before {what}{exited}. So far:\n{Transcript}");
            throw;
        }
    }

    private static string Drain(Channel<string> lines)
    {
        var text = new StringBuilder();
        while (lines.Reader.TryRead(out var line))
        {
            text.Append(line).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>Reads the stream on a thread of its own: on Linux an asynchronous read of a pipe blocks a thread-pool
    /// thread anyway, and a test running several processes would starve the pool its own clients need (the reliability
    /// canary saw 400 ms stalls when an attacker process started).</summary>
    private Task PumpAsync(StreamReader reader, Channel<string> lines, string tag) =>
        Task.Factory.StartNew(() => Pump(reader, lines, tag), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Pump(StreamReader reader, Channel<string> lines, string tag)
    {
        while (reader.ReadLine() is { } line)
        {
            lock (_transcript)
            {
                _transcript.Append(tag).Append(": ").Append(line).Append('\n');
            }

            lines.Writer.TryWrite(line);
        }

        lines.Writer.TryComplete();
    }

    /// <summary>src/Switchboard.Cli/bin/CONFIGURATION/net10.0/Switchboard.Cli.dll.</summary>
    private static string FindDll() => BuiltDll(Path.Combine("src", "Switchboard.Cli"), "Switchboard.Cli");

    /// <summary>The repository root (where Switchboard.sln is), found from where these tests run.</summary>
    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Switchboard.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException($"No Switchboard.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>PROJECT_DIR/bin/CONFIGURATION/net10.0/ASSEMBLY.dll under the repository root, in the configuration these tests were built in.</summary>
    private static string BuiltDll(string projectDirectory, string assembly)
    {
        var configuration = typeof(CliProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name; // net10.0
        var dll = Path.Combine(RepositoryRoot(), projectDirectory, "bin", configuration, framework, assembly + ".dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: build {projectDirectory} in {configuration} first (the test project's reference does).");
    }
}
