using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.CompilerServices;

namespace Switchboard.Cli;

/// <summary>An "Examples:" section at the end of a command's <c>--help</c>. System.CommandLine 2.0 has no such section
/// and keeps its help layout internal, so the standard help action is wrapped and the examples follow its output.</summary>
public static class HelpExamples
{
    private static readonly ConditionalWeakTable<Command, string[]> Examples = new();

    /// <summary>Gives <paramref name="command"/> example lines, each a command line optionally followed by <c># what it does</c>.</summary>
    public static Command With(this Command command, params string[] examples)
    {
        ArgumentNullException.ThrowIfNull(command);
        Examples.AddOrUpdate(command, examples);
        return command;
    }

    /// <summary>The examples given to <paramref name="command"/> (empty when none).</summary>
    public static IReadOnlyList<string> Of(Command command) => Examples.TryGetValue(command, out var examples) ? examples : [];

    /// <summary>The <c>--help</c> option (recursive: every subcommand has it) whose output ends with the command's examples.</summary>
    public static HelpOption Option()
    {
        var option = new HelpOption();
        option.Action = new ExamplesHelpAction((HelpAction)option.Action!);
        return option;
    }

    private sealed class ExamplesHelpAction(HelpAction standard) : SynchronousCommandLineAction
    {
        // As the standard help: 'switchboard pub --help' is help, not an error about the missing SENDER and EVENT.
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var code = standard.Invoke(parseResult);
            var examples = Of(parseResult.CommandResult.Command);
            if (examples.Count == 0)
            {
                return code;
            }

            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine("Examples:");
            var width = examples.Max(e => CommandPart(e).Length);
            foreach (var example in examples)
            {
                var comment = example.IndexOf(" # ", StringComparison.Ordinal);
                output.WriteLine(comment < 0 ? $"  {example}" : $"  {CommandPart(example).PadRight(width)}  {example[(comment + 1)..]}");
            }

            output.WriteLine();
            return code;
        }

        private static string CommandPart(string example)
        {
            var comment = example.IndexOf(" # ", StringComparison.Ordinal);
            return comment < 0 ? example : example[..comment].TrimEnd();
        }
    }
}
