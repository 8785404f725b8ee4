using System.CommandLine;
using Switchboard.LoadTest;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard bench</c>: the end-to-end load tool (bench/Switchboard.LoadTest), the same code and
/// arguments as running it directly.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench",
            "The load tool: the same scenarios over raw sockets against a Switchboard broker and nats-server ('run'), a bare broker ('serve'), " +
            "the steady-state allocation proof ('alloc'). 'switchboard bench help' lists its commands and options; bench/run-loadtest.sh runs the whole table.")
        {
            TreatUnmatchedTokensAsErrors = false, // everything after 'bench' belongs to the load tool
        };
        command.SetAction((result, _) => LoadTestApp.RunAsync([.. result.UnmatchedTokens]));
        return command;
    }
}
