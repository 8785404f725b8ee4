using System.Text.Json;
using System.Text.RegularExpressions;
using Switchboard.Cli.Tests.Support;

namespace Switchboard.Cli.Tests;

/// <summary>
/// The examples of seed 001 (examples/GenericServer, GenericSender, GenericListener) and seed 000 (examples/ScatterGather),
/// each run as a real process against a GenericServer broker on a free port, and the commands README prints for them.
/// </summary>
public sealed partial class ExamplesTests
{
    private static readonly string[] Projects = ["GenericServer", "GenericSender", "GenericListener", "ScatterGather"];

    [GeneratedRegex(@"^  +(\d+) ms  (\S+)  (.*)$")]
    private static partial Regex ResultLine();

    [GeneratedRegex(@"dotnet run --project (examples/[A-Za-z]+)(?: -- (.*))?$", RegexOptions.Multiline)]
    private static partial Regex ReadmeCommand();

    [Fact]
    public async Task The_timers_ticks_reach_a_listener_of_that_sender_and_event()
    {
        await using var server = await StartServerAsync("--sender", "clock", "--event", "beat", "--period", "0.2");
        await using var listener = CliProcess.StartExample("GenericListener", closeInput: true, "--server", server.Address, "--sender", "clock", "--event", "beat", "--count", "3");

        Assert.Equal(0, await listener.WaitForExitAsync());
        var ticks = Lines(listener.RemainingOut()).Select(line => Assert.Single(Regex.Matches(line, @"^clock beat (\d+)$")).Groups[1].Value).Select(int.Parse).ToList();
        Assert.Equal(3, ticks.Count);
        Assert.Equal(Enumerable.Range(ticks[0], 3), ticks); // a counter, one per tick
    }

    [Fact]
    public async Task The_senders_event_reaches_the_listener()
    {
        await using var server = await StartServerAsync("--period", "3600");
        await using var listener = await StartListenerAsync(server.Address, "--sender", "mysender", "--event", "tick", "--count", "1");

        var (code, stdout) = await RunExampleAsync("GenericSender", "--server", server.Address, "--sender", "mysender", "--event", "tick", "--data", "42");

        Assert.Equal((0, "triggered: mysender tick 42\n"), (code, stdout));
        Assert.Equal(0, await listener.WaitForExitAsync());
        Assert.Equal("mysender tick 42\n", listener.RemainingOut());
    }

    [Fact]
    public async Task Stdin_lines_are_triggered_on_every_event_and_a_listener_without_event_gets_them_all()
    {
        await using var server = await StartServerAsync("--period", "3600");
        await using var listener = await StartListenerAsync(server.Address, "--sender", "mysender", "--count", "7"); // the seed's sender broadcast
        await using var sender = CliProcess.StartExample("GenericSender", closeInput: false, "--server", server.Address, "--sender", "mysender", "--event", "tick", "--event", "tac");
        foreach (var line in new[] { "1", "hello", "" })
        {
            await sender.WriteLineAsync(line);
        }

        sender.CloseInput();

        Assert.Equal(0, await sender.WaitForExitAsync());
        Assert.Equal(0, await listener.WaitForExitAsync());
        var lines = Lines(listener.RemainingOut());
        Assert.StartsWith("mysender #connect {", lines[0], StringComparison.Ordinal); // presence is one of its events too
        Assert.Equal(["mysender tick 1", "mysender tac 1", "mysender tick \"hello\"", "mysender tac \"hello\"", "mysender tick", "mysender tac"], lines[1..]);
    }

    [Fact]
    public async Task A_listener_with_no_sender_and_no_event_receives_everything_on_the_bus()
    {
        await using var server = await StartServerAsync("--period", "3600");
        await using var listener = await StartListenerAsync(server.Address, "--count", "4"); // the seed's router broadcast

        var (code, _) = await RunExampleAsync("GenericSender", "--server", server.Address, "--sender", "kitchen", "--event", "tick", "--event", "#temperature", "--data", "21.5");

        Assert.Equal(0, code);
        Assert.Equal(0, await listener.WaitForExitAsync());
        var lines = Lines(listener.RemainingOut());
        Assert.Equal(4, lines.Count);
        Assert.StartsWith("kitchen #connect {", lines[0], StringComparison.Ordinal);
        Assert.Equal(["kitchen tick 21.5", "kitchen #temperature 21.5"], lines[1..3]);
        Assert.StartsWith("kitchen #disconnect {", lines[3], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scatter_gather_over_a_broker_gives_the_seeds_three_outcomes_at_the_producers_times()
    {
        await using var server = await StartServerAsync("--period", "3600");
        await AssertScatterGatherAsync($"bus: {server.Address}", "--server", server.Address);
    }

    [Fact]
    public async Task Scatter_gather_in_process_gives_the_seeds_three_outcomes_at_the_producers_times() =>
        await AssertScatterGatherAsync("bus: local", "--local");

    [Fact]
    public async Task Every_example_command_in_the_readme_names_a_project_and_flags_its_help_lists()
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(CliProcess.RepositoryRoot(), "README.md"), TestContext.Current.CancellationToken);
        var section = readme[readme.IndexOf("\n## Examples", StringComparison.Ordinal)..];
        section = section[..(section.IndexOf("\n## ", 5, StringComparison.Ordinal) is var end and > 0 ? end : section.Length)];
        var commands = ReadmeCommand().Matches(section);
        Assert.Equal(Projects.Order(), commands.Select(c => c.Groups[1].Value["examples/".Length..]).Distinct().Order());
        foreach (var project in Projects)
        {
            Assert.True(File.Exists(Path.Combine(CliProcess.RepositoryRoot(), "examples", project, project + ".csproj")), project);
            var (code, help) = await RunExampleAsync(project, "--help");
            Assert.Equal(0, code);
            var flags = commands.Where(c => c.Groups[1].Value == $"examples/{project}").SelectMany(c => Regex.Matches(c.Groups[2].Value, @"--[a-z-]+").Select(m => m.Value));
            Assert.All(flags, flag => Assert.Contains(flag + " ", help, StringComparison.Ordinal));
        }
    }

    /// <summary>What the seed asserts for each ttl: who answered (at what time), who is missing, what each result listener got.</summary>
    private static async Task AssertScatterGatherAsync(string busLine, params string[] args)
    {
        var (code, stdout) = await RunExampleAsync("ScatterGather", args);
        Assert.Equal(0, code);
        var times = new List<(string Producer, int Ms)>();
        var normalized = string.Join('\n', Lines(stdout).Select(line =>
        {
            var result = ResultLine().Match(line);
            if (!result.Success)
            {
                return line;
            }

            times.Add((result.Groups[2].Value, int.Parse(result.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
            using var data = JsonDocument.Parse(result.Groups[3].Value);
            return $"  {result.Groups[2].Value} id={data.RootElement.GetProperty("id")} some_key={data.RootElement.GetProperty("some_key")} args={data.RootElement.GetProperty("args")} kwargs={data.RootElement.GetProperty("kwargs")}";
        }));
        var expected =
            $$"""
            {{busLine}}
            gather topic1, ttl 4000 ms
              producer1 id=0 some_key=topic1 args=[3,4,5] kwargs={"keyword":"b"}
              producer2 id=1 some_key=topic1 args=[3,4,5] kwargs={"keyword":"b"}
              answered: producer1, producer2; missing: none; late: 0
              listener1 received: producer1, producer2
              listener2 received: producer1, producer2
            gather my_topic, ttl 300 ms
              producer1 id=0 some_key=my_topic args=[3,4,5] kwargs={"keyword":"b"}
              answered: producer1; missing: producer2; late: 1
              listener1 received: producer1
              listener2 received: producer1
            gather topic2, ttl 1000 ms
              producer2 id=1 some_key=topic2 args=[3,4,5] kwargs={"keyword":"b"}
              answered: producer2; missing: none; late: 0
              listener1 received: producer2
              listener2 received: none
            """;
        Assert.True(expected == normalized, $"Expected (result times aside):\n{expected}\nbut it printed:\n{stdout}");

        // Each result arrives when its producer stops blocking (200 ms, 500 ms), give or take 50 ms.
        var blocking = new[] { ("producer1", 200), ("producer2", 500), ("producer1", 200), ("producer2", 500) };
        Assert.All(times.Zip(blocking), pair => Assert.True(
            pair.First.Producer == pair.Second.Item1 && pair.First.Ms >= pair.Second.Item2 - 5 && pair.First.Ms <= pair.Second.Item2 + 50,
            $"{pair.First.Producer} answered after {pair.First.Ms} ms; expected {pair.Second.Item1} after {pair.Second.Item2} ms (+50). Output:\n{stdout}"));
    }

    private static async Task<ServerProcess> StartServerAsync(params string[] args)
    {
        var process = CliProcess.StartExample("GenericServer", closeInput: true, ["--port", "0", .. args]);
        var line = await process.WaitForOutAsync("listening: sb://");
        return new ServerProcess(process, line["listening: ".Length..]);
    }

    /// <summary>Starts GenericListener and waits until it is registered (its 'listening: ...' line on stderr).</summary>
    private static async Task<CliProcess> StartListenerAsync(string server, params string[] args)
    {
        var listener = CliProcess.StartExample("GenericListener", closeInput: true, ["--server", server, .. args]);
        await listener.WaitForErrAsync("listening: ");
        return listener;
    }

    private static async Task<(int Code, string Out)> RunExampleAsync(string project, params string[] args)
    {
        await using var process = CliProcess.StartExample(project, closeInput: true, args);
        var code = await process.WaitForExitAsync();
        Assert.True(code == 0, $"{process.CommandLine} exited with {code}:\n{process.Transcript}");
        return (code, process.RemainingOut());
    }

    private static List<string> Lines(string text) => [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    /// <summary>A GenericServer example and its address; disposing it kills it by its PID.</summary>
    private sealed record ServerProcess(CliProcess Process, string Address) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Process.DisposeAsync();
    }
}
