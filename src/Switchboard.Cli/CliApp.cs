using System.CommandLine;
using Switchboard.Cli.Commands;

namespace Switchboard.Cli;

/// <summary>The <c>switchboard</c> command: builds the command tree, runs it, and turns every failure into one line on
/// stderr and an exit code (see <see cref="ExitCodes"/>). Never a stack trace.</summary>
public static class CliApp
{
    /// <summary>The command's name, whatever the executable is called (Switchboard.Cli.dll, the switchboard launcher).</summary>
    public const string Name = "switchboard";

    public static Command Build()
    {
        var root = new Command(Name,
            "Switchboard: an event bus for processes and machines. 'serve' runs a broker; pub, sub, req, gather and senders use one; 'demo' shows one at work; 'bench' measures one against nats-server.\n" +
            "Colours and live displays only on a terminal, and no colours when NO_COLOR is set.\n" +
            "Exit codes: 0 ok, 1 the operation failed (the bus said why), 2 bad usage or serve could not listen, 3 could not connect.");
        root.Options.Add(HelpExamples.Option());
        root.Options.Add(new VersionOption());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(PubCommand.Create());
        root.Subcommands.Add(SubCommand.Create());
        root.Subcommands.Add(ReqCommand.Create());
        root.Subcommands.Add(GatherCommand.Create());
        root.Subcommands.Add(SendersCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(HashPasswordCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        return root.With(
            "switchboard demo --count 3  # a broker, a sender and a listener in one command",
            "switchboard serve --port 0",
            "switchboard sub --event '#temperature'",
            "switchboard pub kitchen '#temperature' 21.5",
            "switchboard senders",
            "switchboard COMMAND --help  # every option of a command, with examples");
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var parsed = Build().Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors.DistinctBy(e => e.Message))
            {
                await Console.Error.WriteLineAsync($"error: {OneLine(error.Message)}");
            }

            await Console.Error.WriteLineAsync("(switchboard --help, or switchboard COMMAND --help, for usage)");
            return ExitCodes.Usage;
        }

        try
        {
            // Signals are handled by each command (Shutdown), so Ctrl+C and SIGTERM end them cleanly with exit code 0.
            return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
        }
        catch (CliException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return ex.ExitCode;
        }
        catch (SwitchboardException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Code}: {OneLine(ex.Message)}");
            return ExitCodes.Failed;
        }
        catch (OperationCanceledException)
        {
            return ExitCodes.Ok; // Ctrl+C or SIGTERM while waiting: a normal way to stop
        }
#pragma warning disable CA1031 // The command line's last line of defence: one clear line, never a stack trace.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await Console.Error.WriteLineAsync($"error: {OneLine(ex.Message)}");
            return ExitCodes.Failed;
        }
    }

    private static string OneLine(string text) =>
        string.Join(' ', text.ReplaceLineEndings(" ").Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
}
