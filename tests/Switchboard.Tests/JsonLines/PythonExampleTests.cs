using System.ComponentModel;
using System.Diagnostics;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.JsonLines;

/// <summary>Runs <c>examples/python/example.py</c> (standard library only) as a real process against a real broker's
/// JSON-lines gateway, and checks what it prints and what a .NET listener on the same bus saw.</summary>
public sealed class PythonExampleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_python_example_answers_a_request_listens_and_gathers()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var ticks = await host.Broker.Bus.ListenAsync("clock", "tick", cancellationToken: Ct);
        var port = new Uri(host.JsonLinesAddress!).Port;
        var script = Path.Combine(RepoRoot(), "examples", "python", "example.py");
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(script)!,
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.Environment["PYTHONUNBUFFERED"] = "1";
        start.Environment["PYTHONPATH"] = Path.Combine(RepoRoot(), "clients", "python", "src"); // the package, uninstalled

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception ex)
        {
            Assert.Skip($"python3 is not installed here ({ex.Message}).");
            return;
        }

        var pid = process.Id;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(Ct);
            var stderr = process.StandardError.ReadToEndAsync(Ct);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(deadline.Token);
            var output = await stdout;
            var errors = await stderr;
            Assert.True(process.ExitCode == 0, $"example.py exited with {process.ExitCode}.\nstdout:\n{output}\nstderr:\n{errors}");
            Assert.Equal(
                [
                    $"connected to 127.0.0.1:{port}",
                    "event clock/tick data=1 seq=1",
                    "event clock/tick data=2 seq=2",
                    "event clock/tick data=3 seq=3",
                    "reply get_ticks: ticks=3 asked_by=app",
                    "request to nobody failed: no_sender",
                    "gather result from fast: 101.5 EUR",
                    "gathered: answered=['fast'] missing=['slow'] late=0",
                    "late results: 1",
                    "senders: clock, switchboard",
                    "done",
                ],
                output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        finally
        {
            try
            {
                using var running = Process.GetProcessById(pid);
                if (!running.HasExited)
                {
                    running.Kill(entireProcessTree: true);
                }
            }
            catch (ArgumentException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        // The Python sender's ticks reached a .NET listener on the same bus as the JSON they were sent as.
        for (var i = 1; i <= 3; i++)
        {
            var tick = await ticks.NextAsync();
            Assert.Equal("clock", tick.Sender);
            Assert.Equal(i, tick.As<int>());
        }
    }

    /// <summary>The repository root: the directory above the test binaries holding Switchboard.sln.</summary>
    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Switchboard.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Switchboard.sln above {AppContext.BaseDirectory}.");
    }
}
