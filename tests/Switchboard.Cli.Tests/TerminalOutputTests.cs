using System.Globalization;
using System.Text.RegularExpressions;
using Switchboard.Cli.Tests.Support;
using Switchboard.Server;

namespace Switchboard.Cli.Tests;

/// <summary>What a person at a terminal sees (the command on a pseudo-terminal), against what a pipe gets: colours,
/// borders and live displays only on the terminal, no colour with NO_COLOR, and no escape sequence when redirected.</summary>
public sealed partial class TerminalOutputTests : IAsyncLifetime
{
    /// <summary>Colour on, whatever the machine running the tests has set.</summary>
    private static readonly Dictionary<string, string?> Colours = new() { ["NO_COLOR"] = null };

    private static readonly Dictionary<string, string?> NoColours = new() { ["NO_COLOR"] = "1" };

    private BrokerHost? _broker;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Server => _broker!.TcpAddress!;

    /// <summary>SGR, the sequence that sets colours and styles (ESC [ ... m).</summary>
    [GeneratedRegex(@"\u001b\[[0-9;]*m")]
    private static partial Regex Sgr();

    public async ValueTask InitializeAsync() =>
        _broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);

    public async ValueTask DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
    }

    [Fact]
    public async Task Senders_on_a_terminal_is_a_bordered_table_of_every_sender_in_colour_and_without_with_NO_COLOR()
    {
        await using var bus = await BusClient.ConnectAsync(Server, cancellationToken: Ct);
        await using var timer = await bus.AddSenderAsync("timer", ["tick", "#temperature"], requests: new()
        {
            ["get_ticks"] = (_, _) => ValueTask.FromResult(Payload.Json(1)),
        }, cancellationToken: Ct);
        await using var door = await bus.AddSenderAsync("door", ["#state"], cancellationToken: Ct);

        var coloured = await RunInTerminalAsync(Colours, "senders", "--server", Server);
        Assert.Matches(Sgr(), coloured);
        var plain = await RunInTerminalAsync(NoColours, "senders", "--server", Server);
        Assert.DoesNotMatch(Sgr(), plain);
        var (_, json, _) = await CliProcess.RunAsync("senders", "--server", Server, "--json"); // the broker's own sender is one too
        var online = System.Text.Json.JsonDocument.Parse(json).RootElement.GetArrayLength();

        foreach (var table in new[] { Sgr().Replace(coloured, ""), plain })
        {
            Assert.Contains("╭", table, StringComparison.Ordinal); // rounded borders
            Assert.Matches(@"│ NAME +│ EVENTS +│ REQUESTS +│", table);
            Assert.Matches(@"│ timer +│ tick, #temperature +│ get_ticks +│", table);
            Assert.Matches(@"│ door +│ #state +│ - +│", table);
            Assert.Contains($"{online} senders online", table, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Sub_stats_on_a_terminal_updates_one_line_in_place_and_ends_with_a_summary()
    {
        await using var sub = CliProcess.StartInTerminal(Colours, "sub", "--server", Server, "--event", "#load", "--stats", "--count", "4");
        await sub.WaitForOutContainingAsync("listening: ");
        Assert.Equal(0, (await CliProcess.RunAsync("pub", "--server", Server, "--count", "4", "--quiet", "meter", "#load", "1234")).Code);

        Assert.Equal(0, await sub.WaitForExitAsync());
        var screen = sub.RemainingOut();
        Assert.Contains("\u001b[", screen, StringComparison.Ordinal); // the live line is redrawn with cursor movements
        Assert.Matches(@"done: 4 msgs, 16 B in [\d.]+ s", Sgr().Replace(screen, ""));
    }

    [Fact]
    public async Task Bench_on_a_terminal_shows_a_live_status_under_its_progress_lines()
    {
        var port = new Uri(Server).Port.ToString(CultureInfo.InvariantCulture);
        var screen = await RunInTerminalAsync(NoColours, "bench", "run", "--switchboard", port, "--scenarios", "S4", "--runs", "1", "--duration", "0.3", "--warmup", "0");

        Assert.True(screen.Contains("bench: ", StringComparison.Ordinal), "no status line in:\n" + screen);
        Assert.True(Regex.IsMatch(screen, @"S4 Switchboard run 1/1 .* loss 0"), "no progress line, kept above the status, in:\n" + screen);
        Assert.True(Regex.IsMatch(screen, @"\| S4 \| sequential request/reply, 16 B \| p50 µs \| [\d,.]+ \|"), "no report in:\n" + screen);
    }

    [Fact]
    public async Task Redirected_output_has_no_escape_sequence_even_where_a_terminal_would_get_colours()
    {
        await using var bus = await BusClient.ConnectAsync(Server, cancellationToken: Ct);
        await using var sender = await bus.AddSenderAsync("pump", ["#flow"], cancellationToken: Ct);
        var port = new Uri(Server).Port.ToString(CultureInfo.InvariantCulture);
        var withTerm = new Dictionary<string, string?>(Colours) { ["TERM"] = "xterm-256color" };

        string[][] commands =
        [
            ["senders", "--server", Server],
            ["demo", "--count", "2", "--interval-ms", "50"],
            ["sub", "--server", Server, "--stats", "--count", "1", "--event", "#flow"],
            ["bench", "run", "--switchboard", port, "--scenarios", "S4", "--runs", "1", "--duration", "0.3", "--warmup", "0"],
            ["--help"],
        ];
        foreach (var args in commands)
        {
            await using var process = CliProcess.StartWithEnvironment(withTerm, args);
            if (args[0] == "sub")
            {
                await process.WaitForErrAsync("listening: ");
                await sender.TriggerAsync("#flow", Payload.Json(3), cancellationToken: Ct);
            }

            Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            var output = process.RemainingOut() + process.RemainingErr();
            Assert.True(output.Length > 0, string.Join(' ', args));
            Assert.False(output.Contains('\u001b', StringComparison.Ordinal), $"switchboard {string.Join(' ', args)} printed an escape sequence:\n{output}");
        }
    }

    /// <summary>Runs the command on a pseudo-terminal to its end (exit 0) and returns the screen's text.</summary>
    private static async Task<string> RunInTerminalAsync(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        await using var process = CliProcess.StartInTerminal(environment, args);
        Assert.True(await process.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, process.Transcript);
        return process.RemainingOut();
    }
}
