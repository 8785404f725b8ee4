using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Spectre.Console;

namespace Switchboard.Cli;

/// <summary>A live status under the load tool's progress lines while <c>switchboard bench</c> measures, when stderr is a
/// terminal: elapsed time, runs done and the latest line. The load tool writes its progress to stderr (one line per
/// run); those lines are kept, printed above the status. The report on stdout is held back until the status is gone, so
/// a redraw never erases a line of it on a shared terminal. Redirected, nothing changes: the same lines, nothing extra.</summary>
public static class BenchProgress
{
    private static readonly TimeSpan Refresh = TimeSpan.FromMilliseconds(250);

    /// <summary>Runs <paramref name="run"/>, with the status on a terminal when <paramref name="longRun"/>.</summary>
    public static async Task<int> RunAsync(bool longRun, Func<Task<int>> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (!longRun || Terminal.Stderr() is not { } terminal)
        {
            return await run();
        }

        var (originalError, originalOut) = (Console.Error, Console.Out);
        using var lines = new LineCollector();
        using var report = new StringWriter(CultureInfo.InvariantCulture);
        Console.SetError(lines);
        Console.SetOut(report);
        try
        {
            return await terminal.Status().Spinner(Spinner.Known.Dots).StartAsync("bench: starting", async status =>
            {
                status.Refresh(); // drawn now, not at the first refresh tick: a short run is seen to be running too
                var clock = Stopwatch.StartNew();
                var running = run();
                var runs = 0;
                var last = "";
                using var timer = new PeriodicTimer(Refresh);
                while (true)
                {
                    var finished = await Task.WhenAny(running, timer.WaitForNextTickAsync().AsTask()) == running;
                    while (lines.TryTake(out var line))
                    {
                        terminal.WriteLine(line); // as the line, never as markup
                        (runs, last) = (runs + 1, line);
                    }

                    if (finished)
                    {
                        return await running;
                    }

                    status.Status = string.Create(CultureInfo.InvariantCulture,
                        $"bench: [aqua]{clock.Elapsed:mm\\:ss}[/] elapsed, {runs} run(s) done{(last.Length == 0 ? "" : "; last: " + Markup.Escape(Shorten(last)))}");
                }
            });
        }
        finally
        {
            Console.SetError(originalError);
            Console.SetOut(originalOut);
            await originalOut.WriteAsync(report.ToString());
            await originalOut.FlushAsync();
        }
    }

    private static string Shorten(string line) => line.Length <= 60 ? line : line[..59] + "…";

    /// <summary>What the load tool writes to stderr, cut into lines for the status loop to print.</summary>
    private sealed class LineCollector : TextWriter
    {
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly StringBuilder _partial = new();
        private readonly Lock _gate = new();

        public override Encoding Encoding => Encoding.UTF8;

        public bool TryTake([NotNullWhen(true)] out string? line) => _lines.TryDequeue(out line);

        public override void Write(char value)
        {
            lock (_gate)
            {
                if (value == '\n')
                {
                    _lines.Enqueue(_partial.ToString().TrimEnd('\r'));
                    _partial.Clear();
                }
                else
                {
                    _partial.Append(value);
                }
            }
        }

        public override void Write(string? value)
        {
            foreach (var c in value ?? "")
            {
                Write(c);
            }
        }

        public override void WriteLine(string? value)
        {
            lock (_gate)
            {
                Write(value);
                Write('\n');
            }
        }

        public override void WriteLine() => Write('\n');
    }
}
