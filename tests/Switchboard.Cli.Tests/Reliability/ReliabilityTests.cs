using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Switchboard.Cli.Tests.Support;

namespace Switchboard.Cli.Tests.Reliability;

/// <summary>The reliability suite runs alone.</summary>
[CollectionDefinition(nameof(ReliabilityCollection), DisableParallelization = true)]
public sealed class ReliabilityCollection;

/// <summary>
/// The broker as a real process, one abusive peer at a time, each attacker a process of its own
/// (tests/Switchboard.Attacker): while it attacks, a canary pair publishes and receives every 50 ms; the canary loses
/// nothing and is never disconnected, no beat takes <see cref="StallLimit"/> or longer (<see cref="SpikeLimit"/> for the
/// attacks still over that target), the broker's RSS stays under
/// <see cref="RssCapBytes"/>, and within <see cref="ComeBackTime"/> after the attacker left it is back within
/// <see cref="ComeBackShare"/> of where it was before (docs/security.md, "Limits", states these caps). "Before" is the
/// broker at its working size: the canary beating, and each surface the attacks use (binary, JSON lines, SSE) having
/// served one well-behaved request, so code first mapped for a surface is not counted as memory the attack kept. The
/// attacks load the machine, and the canary's latency is what they measure: they run alone, after the other tests.
/// </summary>
[Collection(nameof(ReliabilityCollection))]
public sealed class ReliabilityTests
{
    /// <summary>The RSS the broker may reach under any one attack, with its default settings.</summary>
    public const long RssCapBytes = 512L << 20;

    private static readonly TimeSpan AttackTime = TimeSpan.FromSeconds(4);
    /// <summary>The longest any beat may take under attack (the issue's target).</summary>
    private static readonly TimeSpan StallLimit = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest a beat may take under the attacks whose worst beat still comes near or over
    /// <see cref="StallLimit"/> on a 2-core machine (docs/security.md gives their figures): one spike each, as the
    /// never-reading listener is cut, as a 30,000-event declaration is refused, as 2,000 sockets close at once.</summary>
    private static readonly TimeSpan SpikeLimit = TimeSpan.FromMilliseconds(250);

    private static readonly string[] NotYetWithinStallLimit = ["retained-hog", "declaration-bombs", "connection-flood"];

    /// <summary>How soon after the attack the broker's RSS must be back near where it was.</summary>
    private static readonly TimeSpan ComeBackTime = TimeSpan.FromSeconds(30);

    /// <summary>How far above its level before the attack the broker's RSS may stay once the attacker left.</summary>
    private const double ComeBackShare = 0.2;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Attacks => [.. AttackNames];

    private static readonly string[] AttackNames =
        ["asks-without-reading", "json-lines-asks-without-reading", "retained-hog", "declaration-bombs", "tricklers", "connection-flood", "sse-hog", "garbage-lines"];

    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task The_canary_loses_nothing_and_memory_is_bounded_and_comes_back(string attack)
    {
        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "0", "--http-port", "0", "--retained-lifetime", "WhileSenderOnline");
        var endpoints = await EndpointsAsync(serve);
        await using var canary = await Canary.StartAsync(endpoints.Tcp, Ct);
        await WarmUpAsync(endpoints);
        await Task.Delay(TimeSpan.FromSeconds(1), Ct); // the canary's first beats, and the broker at its working size
        var before = Rss(serve.Id);

        await using (var attacker = CliProcess.StartTestTool("Switchboard.Attacker", attack, endpoints.Tcp, endpoints.JsonLines.ToString(), endpoints.Http.ToString(), "60"))
        {
            await attacker.WaitForOutAsync("attacking: ");
            TestContext.Current.SendDiagnosticMessage($"{attack}: attacking from beat #{canary.Sent}");
            await Task.Delay(AttackTime, Ct);
            attacker.CloseInput(); // the end of the attack: the attacker stops and closes its connections
            Assert.True(await attacker.WaitForExitAsync() == 0, attacker.Transcript);
            AssertSeen(attack, attacker.RemainingOut());
        }

        var peak = PeakRss(serve.Id);
        var (worst, slow) = await canary.StopAndAssertAsync(NotYetWithinStallLimit.Contains(attack) ? SpikeLimit : StallLimit);
        Assert.True(peak < RssCapBytes, $"{attack}: the broker's RSS peaked at {peak >> 20} MiB (cap {RssCapBytes >> 20} MiB)");
        var back = Stopwatch.StartNew();
        while (Rss(serve.Id) > before * (1 + ComeBackShare) && back.Elapsed < ComeBackTime)
        {
            await Task.Delay(250, Ct);
        }

        var after = Rss(serve.Id);
        TestContext.Current.SendDiagnosticMessage($"{attack}: RSS {before >> 20} MiB before, peak {peak >> 20}, {after >> 20} MiB ({StatusKilobytes(serve.Id, "RssAnon:") >> 10} MiB anonymous) {back.Elapsed.TotalSeconds:0.0} s after; slowest beat {worst.TotalMilliseconds:0} ms; beats over 50 ms: {(slow.Length == 0 ? "none" : slow)}");
        Assert.True(after <= before * (1 + ComeBackShare), $"{attack}: the broker's RSS is {after >> 20} MiB {ComeBackTime.TotalSeconds:0} s after the attack, more than {ComeBackShare:P0} above the {before >> 20} MiB before it");
    }

    /// <summary>One well-behaved use of each surface the attacks use: JSON lines, the HTTP gateway's SSE stream.</summary>
    private static async Task WarmUpAsync(Endpoints at)
    {
        using (var lines = new TcpClient())
        {
            await lines.ConnectAsync(at.JsonLines.Host, at.JsonLines.Port, Ct);
            var stream = lines.GetStream();
            await stream.WriteAsync("{\"op\":\"senders\",\"id\":1}\n"u8.ToArray(), Ct);
            using var reader = new StreamReader(stream);
            var answer = await reader.ReadLineAsync(Ct).AsTask().WaitAsync(CliProcess.Timeout, Ct);
            Assert.Contains("\"senders\"", answer, StringComparison.Ordinal);
        }

        using var http = new HttpClient { BaseAddress = at.Http, Timeout = CliProcess.Timeout };
        using var sse = await http.GetAsync(new Uri("/events?event=%23warm", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, sse.StatusCode);
    }

    private sealed record Endpoints(string Tcp, Uri JsonLines, Uri Http);

    private static async Task<Endpoints> EndpointsAsync(CliProcess serve)
    {
        var tcp = (await serve.WaitForOutAsync("listening: sb://"))["listening: ".Length..];
        var jsonl = new Uri((await serve.WaitForOutAsync("listening: jsonl://"))["listening: ".Length..]);
        var http = new Uri((await serve.WaitForOutAsync("listening: http://"))["listening: ".Length..]);
        return new Endpoints(tcp, jsonl, http);
    }

    /// <summary>What the attacker must have seen of the broker's limits for the attack to have been what it says.</summary>
    private static void AssertSeen(string attack, string attackerOut)
    {
        if (attack == "sse-hog")
        {
            Assert.Matches(@"seen: \d+ streams open, [1-9]\d* refused with 429", attackerOut); // past MaxSseClientsPerAddress
        }
        else if (attack == "retained-hog")
        {
            Assert.Contains("seen: retain refused: ", attackerOut, StringComparison.Ordinal); // the retained store's byte bound
        }
    }

    private static long Rss(int pid) => StatusKilobytes(pid, "VmRSS:") * 1024;

    private static long PeakRss(int pid) => StatusKilobytes(pid, "VmHWM:") * 1024;

    private static long StatusKilobytes(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
