using Switchboard.Cli.Tests.Support;

namespace Switchboard.Cli.Tests;

/// <summary>Every command's <c>--help</c> ends with examples of itself.</summary>
public sealed class HelpExamplesTests
{
    public static TheoryData<string> Commands => ["", "serve", "pub", "sub", "req", "gather", "senders", "bench", "hash-password", "demo"];

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_of_every_command_ends_with_examples_of_that_command(string command)
    {
        string[] args = command.Length == 0 ? ["--help"] : [command, "--help"];
        var (code, stdout, stderr) = await CliProcess.RunAsync(args);

        Assert.Equal((0, ""), (code, stderr));
        Assert.Contains("Usage:", stdout, StringComparison.Ordinal); // the standard help is still there, before the examples
        var examples = stdout[(stdout.IndexOf("\nExamples:\n", StringComparison.Ordinal) + 1)..];
        Assert.StartsWith("Examples:\n", examples, StringComparison.Ordinal);
        var lines = examples.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1..];
        Assert.True(lines.Length >= 2, stdout);
        Assert.All(lines, line => Assert.StartsWith("  ", line, StringComparison.Ordinal));
        Assert.All(lines, line => Assert.Contains(command.Length == 0 ? "switchboard " : $"switchboard {command}", line, StringComparison.Ordinal));
        Assert.DoesNotContain('\u001b', stdout);
    }

    [Fact]
    public async Task Help_of_a_command_with_required_arguments_is_help_not_a_usage_error()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync("pub", "--help"); // SENDER and EVENT missing

        Assert.Equal((0, ""), (code, stderr));
        Assert.Contains("switchboard pub kitchen '#temperature' 21.5", stdout, StringComparison.Ordinal);
    }
}
