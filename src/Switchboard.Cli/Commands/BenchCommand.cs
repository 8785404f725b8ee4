using System.CommandLine;
using Switchboard.LoadTest;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard bench</c>: the end-to-end load tool (bench/Switchboard.LoadTest), the same code and
/// arguments as running it directly, with a live status on a terminal (<see cref="BenchProgress"/>).</summary>
public static class BenchCommand
{
    /// <summary>The load tool's commands that take seconds to minutes, and so get a status; the others print at once.</summary>
    private static readonly HashSet<string> LongCommands = new(StringComparer.Ordinal) { "run", "alloc", "memory" };

    public static Command Create()
    {
        var command = new Command("bench",
            "The load tool: the same scenarios over raw sockets against a Switchboard broker and nats-server ('run'), a bare broker ('serve'), " +
            "the steady-state allocation proof ('alloc'). 'switchboard bench help' lists its commands and options; bench/run-loadtest.sh runs the whole table. " +
            "On a terminal a live status (elapsed time, runs done) sits under the progress lines on stderr.")
        {
            TreatUnmatchedTokensAsErrors = false, // everything after 'bench' belongs to the load tool
        };
        command.With(
            "switchboard bench help  # the load tool's commands and options",
            "switchboard bench run --switchboard 7222 --scenarios S1,S4 --runs 1 --duration 1",
            "switchboard bench run --switchboard 7222 --nats 4222 --out report.md",
            "switchboard bench alloc --messages 1000000");
        command.SetAction((result, _) =>
        {
            string[] arguments = [.. result.UnmatchedTokens];
            var longRun = arguments.Length > 0 && (LongCommands.Contains(arguments[0]) || arguments[0].StartsWith("--", StringComparison.Ordinal));
            return BenchProgress.RunAsync(longRun, () => LoadTestApp.RunAsync(arguments));
        });
        return command;
    }
}
