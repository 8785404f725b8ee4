using System.Text.Json;
using Switchboard.Cli.Tests.Support;
using Switchboard.Server;

namespace Switchboard.Cli.Tests;

/// <summary>pub, sub, req, gather and senders as real processes against a broker started in the test.</summary>
public sealed class ClientCommandTests : IAsyncLifetime
{
    private BrokerHost? _broker;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Server => _broker!.TcpAddress!;

    public async ValueTask InitializeAsync() =>
        _broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);

    public async ValueTask DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
    }

    private Task<BusClient> ConnectAsync() => BusClient.ConnectAsync(Server, new BusClientOptions { ClientName = "test" }, Ct);

    [Fact]
    public async Task Sub_json_count_2_prints_exactly_the_messages_of_two_pub_processes_and_exits_0()
    {
        await using var sub = CliProcess.Start("sub", "--server", Server, "--event", "#temp", "--json", "--count", "2");
        Assert.Equal($"listening: sender=any event=#temp on {Server}", await sub.WaitForErrAsync("listening"));

        var first = await CliProcess.RunAsync("pub", "--server", Server, "kitchen", "#temp", "21.5");
        Assert.Equal((0, "published kitchen/#temp\n", ""), first);
        var second = await CliProcess.RunAsync("pub", "--server", Server, "garden", "#temp", """{"c": 12, "unit": "°C"}""");
        Assert.Equal((0, "published garden/#temp\n", ""), second);

        Assert.Equal("""{"sender":"kitchen","event":"#temp","data":21.5}""", await sub.ReadLineAsync());
        Assert.Equal("""{"sender":"garden","event":"#temp","data":{"c":12,"unit":"°C"}}""", await sub.ReadLineAsync());
        Assert.Equal(0, await sub.WaitForExitAsync());
        Assert.Equal("", sub.RemainingOut());
    }

    [Fact]
    public async Task Sub_prints_sender_event_data_lines_and_exits_0_on_sigterm()
    {
        await using var sub = CliProcess.Start("sub", "--server", Server, "--sender", "timer", "--event", "tick");
        await sub.WaitForErrAsync("listening");
        await using var bus = await ConnectAsync();
        await using var timer = await bus.AddSenderAsync("timer", ["tick"], cancellationToken: Ct);

        await timer.TriggerAsync("tick", Payload.Json(1), cancellationToken: Ct);
        await timer.TriggerAsync("tick", Payload.Utf8("plain text"), cancellationToken: Ct);
        await timer.TriggerAsync("tick", Payload.Utf8("{\n  \"a\": 1\n}"), cancellationToken: Ct);
        await timer.TriggerAsync("tick", cancellationToken: Ct);

        Assert.Equal("timer tick 1", await sub.ReadLineAsync());
        Assert.Equal("timer tick plain text", await sub.ReadLineAsync());
        Assert.Equal("""timer tick {"a":1}""", await sub.ReadLineAsync()); // one message, one line
        Assert.Equal("timer tick", await sub.ReadLineAsync());
        await sub.TerminateAsync();
        Assert.Equal(0, await sub.WaitForExitAsync());
        Assert.Equal("", sub.RemainingOut());
    }

    [Fact]
    public async Task Sub_stats_prints_a_rate_line_every_second_with_the_totals_then_a_summary_on_sigterm()
    {
        await using var sub = CliProcess.Start("sub", "--server", Server, "--event", "#load", "--stats");
        await sub.WaitForErrAsync("listening");
        var (code, _, _) = await CliProcess.RunAsync("pub", "--server", Server, "--count", "5", "--quiet", "meter", "#load", "12345");
        Assert.Equal(0, code);

        // Rate lines come whether or not anything arrived; the first one after the five messages carries them in its totals.
        string line;
        do
        {
            line = await sub.ReadLineAsync();
            Assert.Matches(@"^rate: [\d,]+ msgs/s, [\d,.]+ (B|KiB)/s; total: [\d,]+ msgs, [\d,.]+ (B|KiB)$", line);
        }
        while (!line.EndsWith("total: 5 msgs, 25 B", StringComparison.Ordinal));

        await sub.TerminateAsync();
        Assert.Equal(0, await sub.WaitForExitAsync());
        var rest = sub.RemainingOut().TrimEnd('\n').Split('\n');
        Assert.Matches(@"^done: 5 msgs, 25 B in [\d.]+ s \([\d,]+ msgs/s\)$", rest[^1]);
        Assert.All(rest[..^1], l => Assert.EndsWith("total: 5 msgs, 25 B", l, StringComparison.Ordinal)); // no message itself is printed
    }

    [Fact]
    public async Task Pub_count_publishes_n_messages_with_json_or_string_data()
    {
        await using var bus = await ConnectAsync();
        await using var numbers = await bus.ListenAsync("counter", "n", cancellationToken: Ct);
        await using var words = await bus.ListenAsync("speaker", "#say", cancellationToken: Ct);

        var (code, stdout, stderr) = await CliProcess.RunAsync("pub", "--server", Server, "--count", "3", "counter", "n", "5");
        Assert.Equal((0, "published counter/n\npublished counter/n\npublished counter/n\n", ""), (code, stdout, stderr));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(5, (await numbers.ReadAsync(Ct)).As<int>());
        }

        Assert.Equal((0, "", ""), await CliProcess.RunAsync("pub", "--server", Server, "--quiet", "speaker", "#say", "hello world"));
        Assert.Equal("hello world", (await words.ReadAsync(Ct)).As<string>()); // not JSON: sent as a JSON string
    }

    [Fact]
    public async Task Pub_retain_stay_keeps_a_value_that_a_later_sub_receives_at_once()
    {
        await using var pub = CliProcess.Start("pub", "--server", Server, "--retain", "--stay", "tank", "#level", "7");
        Assert.Equal("published tank/#level", await pub.ReadLineAsync());
        await pub.WaitForErrAsync("staying online as tank");

        var (code, stdout, stderr) = await CliProcess.RunAsync("sub", "--server", Server, "--event", "#level", "--count", "1");

        Assert.Equal((0, "tank #level 7\n"), (code, stdout));
        Assert.StartsWith("listening: ", stderr, StringComparison.Ordinal);
        await pub.TerminateAsync();
        Assert.Equal(0, await pub.WaitForExitAsync());
    }

    [Fact]
    public async Task Req_prints_the_reply_of_a_sender_registered_in_the_test()
    {
        await using var bus = await ConnectAsync();
        await using var timer = await bus.AddSenderAsync("clock", ["tick"], requests: new()
        {
            ["get_ticks"] = (_, _) => ValueTask.FromResult(Payload.Json(42)),
            ["echo"] = (request, _) => ValueTask.FromResult(request.Data),
        }, cancellationToken: Ct);

        Assert.Equal((0, "42\n", ""), await CliProcess.RunAsync("req", "--server", Server, "clock", "get_ticks"));
        Assert.Equal((0, "{\"a\":[1,2]}\n", ""), await CliProcess.RunAsync("req", "--server", Server, "clock", "echo", "{\"a\":[1,2]}"));
        Assert.Equal((0, "\"hi\"\n", ""), await CliProcess.RunAsync("req", "--server", Server, "clock", "echo", "hi"));

        // Several brokers, comma-separated: the first one is down, the client moves on to the next.
        using var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var down = $"sb://127.0.0.1:{((System.Net.IPEndPoint)closed.LocalEndpoint).Port}";
        closed.Stop();
        Assert.Equal((0, "42\n", ""), await CliProcess.RunAsync("req", "--server", $"{down},{Server}", "clock", "get_ticks"));
    }

    [Fact]
    public async Task Req_failures_exit_1_with_the_error_code_on_stderr()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync("req", "--server", Server, "nobody", "get_ticks");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: no_sender: ", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd('\n').Split('\n')); // one line, no stack trace

        await using var bus = await ConnectAsync();
        await using var failing = await bus.AddSenderAsync("failing", ["x"], requests: new()
        {
            ["boom"] = (_, _) => throw new InvalidOperationException("the disk is full"),
        }, cancellationToken: Ct);
        (code, stdout, stderr) = await CliProcess.RunAsync("req", "--server", Server, "failing", "boom");
        Assert.Equal(1, code);
        Assert.StartsWith("error: handler_error: ", stderr, StringComparison.Ordinal);
        Assert.Contains("the disk is full", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await CliProcess.RunAsync("req", "--server", Server, "failing", "other");
        Assert.Equal(1, code);
        Assert.StartsWith("error: no_handler: ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gather_prints_each_result_as_it_arrives_then_who_answered_and_who_is_missing()
    {
        await using var bus = await ConnectAsync();
        await using var fast = await bus.AddProducerAsync("prices", (request, _) => ValueTask.FromResult(Payload.Json(new { shop = "fast", item = request.Data.As<string>() })), new ProducerOptions { Name = "fast" }, Ct);
        await using var plain = await bus.AddProducerAsync("prices", (_, _) => ValueTask.FromResult(Payload.Json(3)), new ProducerOptions { Name = "plain" }, Ct);
        await using var silent = await bus.AddProducerAsync("prices", async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return Payload.Empty;
        }, new ProducerOptions { Name = "silent" }, Ct);

        await using var gather = CliProcess.Start("gather", "--server", Server, "prices", "apple", "--ttl-ms", "1500");
        var results = new[] { await gather.ReadLineAsync(), await gather.ReadLineAsync() }.Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["fast {\"shop\":\"fast\",\"item\":\"apple\"}", "plain 3"], results);
        var summary = await gather.ReadLineAsync();
        Assert.Matches(@"^answered: (fast, plain|plain, fast); missing: silent; late: 0$", summary);
        Assert.Equal(0, await gather.WaitForExitAsync());
        Assert.Equal("", gather.RemainingOut());

        var (code, stdout, _) = await CliProcess.RunAsync("gather", "--server", Server, "prices", "pear", "--ttl-ms", "500", "--json");
        Assert.Equal(0, code);
        var lines = stdout.TrimEnd('\n').Split('\n').Select(line => JsonDocument.Parse(line).RootElement).ToArray();
        Assert.Equal(3, lines.Length);
        Assert.All(lines[..2], line => Assert.Equal("result", line.GetProperty("op").GetString()));
        Assert.Equal("gathered", lines[2].GetProperty("op").GetString());
        Assert.Equal(["fast", "plain"], lines[2].GetProperty("answered").EnumerateArray().Select(e => e.GetString()).Order(StringComparer.Ordinal));
        Assert.Equal(["silent"], lines[2].GetProperty("missing").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Senders_lists_the_senders_online_with_their_events_and_requests()
    {
        await using var bus = await ConnectAsync();
        await using var timer = await bus.AddSenderAsync("timer", ["tick", "#temperature"], requests: new()
        {
            ["get_ticks"] = (_, _) => ValueTask.FromResult(Payload.Json(1)),
        }, cancellationToken: Ct);

        var (code, stdout, stderr) = await CliProcess.RunAsync("senders", "--server", Server);
        Assert.Equal((0, ""), (code, stderr));
        var rows = stdout.TrimEnd('\n').Split('\n');
        Assert.Matches("^NAME +EVENTS +REQUESTS$", rows[0]);
        Assert.Contains(rows, row => System.Text.RegularExpressions.Regex.IsMatch(row, "^timer +tick, #temperature +get_ticks$"));
        var columns = rows[0].IndexOf("EVENTS", StringComparison.Ordinal);
        Assert.All(rows[1..], row => Assert.NotEqual(' ', row[columns])); // aligned: every event column starts at the same place

        (code, stdout, _) = await CliProcess.RunAsync("senders", "--server", Server, "--json");
        Assert.Equal(0, code);
        var listed = JsonDocument.Parse(stdout).RootElement.EnumerateArray().Single(s => s.GetProperty("name").GetString() == "timer");
        Assert.Equal(["tick", "#temperature"], listed.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["get_ticks"], listed.GetProperty("requests").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Senders_works_with_twenty_thousand_senders_online()
    {
        await using var first = await ConnectAsync();
        await using var second = await ConnectAsync();
        await Task.WhenAll(AddSendersAsync(first, 0), AddSendersAsync(second, 10_000));

        var (code, stdout, stderr) = await CliProcess.RunAsync("senders", "--server", Server, "--json");
        Assert.Equal((0, ""), (code, stderr));
        var names = JsonDocument.Parse(stdout).RootElement.EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToHashSet();
        Assert.Equal(20_000, names.Count(n => n!.StartsWith("sensor-", StringComparison.Ordinal)));
    }

    private static async Task AddSendersAsync(BusClient client, int from)
    {
        for (var batch = 0; batch < 10_000; batch += 1000)
        {
            await Task.WhenAll(Enumerable.Range(from + batch, 1000).Select(i => client.AddSenderAsync($"sensor-{i:D5}", ["#temperature", "#status"], cancellationToken: Ct).AsTask()));
        }
    }
}
