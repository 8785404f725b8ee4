using System.Globalization;
using System.Text;

namespace Switchboard.LoadTest;

/// <summary>Writes a <see cref="LoadReport"/> as markdown: medians with ratios and targets, broker cost, every run.</summary>
internal static class MarkdownReport
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    private enum Better
    {
        /// <summary>Information only.</summary>
        None,

        /// <summary>Target: Switchboard ≥ NATS.</summary>
        Higher,

        /// <summary>Target: Switchboard ≤ NATS.</summary>
        Lower,
    }

    private sealed record Metric(string Name, Func<RunMeasurement, double?> Value, string Format, Better Target);

    public static string Write(LoadReport report)
    {
        var o = report.Options;
        var sb = new StringBuilder();
        var targets = o.Targets;
        var both = targets.Count >= 2; // the ratio is the first target's over the second's

        sb.AppendLine(C, $"Medians of {o.Runs} measured run(s) of {o.Duration.TotalSeconds:0.#} s per scenario and broker, after a {o.Warmup.TotalSeconds:0.#} s warm-up; runs alternate between the brokers. Window: {o.WindowMessages:N0} messages or {o.WindowBytes / 1024:N0} KiB of payload in flight, whichever is smaller. Whole table: {report.Elapsed.TotalMinutes:0.0} min.");
        sb.AppendLine();
        foreach (var target in targets)
        {
            sb.AppendLine(C, $"- {Column(o, target)}: 127.0.0.1:{target.Port}{(target.Pid is { } pid ? $", PID {pid}" : ", no PID (CPU and RSS not measured)")}{(target.Label is { } label ? $" — {label}" : string.Empty)}");
        }

        sb.AppendLine();
        sb.Append("| # | scenario | metric |");
        foreach (var target in targets)
        {
            sb.Append(C, $" {Column(o, target)} |");
        }

        if (both)
        {
            sb.Append(C, $" {Column(o, targets[0])} / {Column(o, targets[1])} | target | met |");
        }

        sb.AppendLine();
        sb.Append("|---|---|---|");
        foreach (var _ in targets)
        {
            sb.Append("---:|");
        }

        if (both)
        {
            sb.Append("---:|---|---|");
        }

        sb.AppendLine();
        foreach (var scenario in report.Scenarios)
        {
            var first = true;
            foreach (var metric in MetricsOf(scenario.Id, o.Driver))
            {
                sb.Append(C, $"| {(first ? scenario.Id : string.Empty)} | {(first ? scenario.Title : string.Empty)} | {metric.Name} |");
                first = false;
                var medians = targets.Select(t => Median(scenario, t.Name, metric.Value)).ToList();
                foreach (var median in medians)
                {
                    sb.Append(C, $" {Format(median, metric.Format)} |");
                }

                if (both)
                {
                    var ratio = medians[0] is { } a && medians[1] is { } b && b != 0 ? a / b : (double?)null;
                    // A gateway has no bar against its baseline yet: docs/benchmarks.md sets one from what is measured.
                    var better = targets[0].Surface == Surface.Native ? metric.Target : Better.None;
                    var bar = Bar(o, scenario.Id, better);
                    sb.Append(C, $" {(ratio is { } r ? r.ToString("0.00", C) + "×" : "n/a")} | {TargetText(better, bar)} | {Verdict(ratio, better, bar)} |");
                }

                sb.AppendLine();
            }
        }

        sb.AppendLine();
        if (o.Driver == LoadDriver.Clients)
        {
            WriteClientNotes(sb, o);
        }
        else
        {
            WriteRawNotes(sb, o);
        }

        WriteCosts(sb, report, targets);
        WriteRuns(sb, report, targets);
        return sb.ToString();
    }

    private static void WriteRawNotes(StringBuilder sb, LoadOptions o)
    {
        sb.AppendLine("How each broker is driven (one code path; only the codec differs):");
        sb.AppendLine();
        sb.AppendLine("- Publish/subscribe (S1–S3, S6, S8, S9): Switchboard: the publisher's connection declares a sender with channel event `#bench` (ADD_SENDER) and sends TRIGGER frames; each subscriber sends LISTEN(any sender, `#bench`) and receives EVENT frames. NATS: `PUB bench n` / `SUB bench sid`, `MSG` in. Publications are pre-encoded once and copied into batches of up to 64 KiB per send; the publisher pauses while the slowest subscriber is more than the window behind.");
        sb.AppendLine(C, $"- S6: the subscriber subscribes {o.Subjects:N0} literal subjects `room<i>.temp` plus `*.humidity`, `*.*.temp`, `room1.*.temp`, `zone.>` (wildcards the matcher must consult, matching none of the published subjects, so each publication is delivered once); the publisher picks subjects with the same pseudo-random sequence for both brokers. Switchboard uses channel patterns (`#room<i>.temp`, `#*.humidity`, …): like a NATS subject, a channel event reaches its listeners whoever publishes it.");
        sb.AppendLine(C, $"- S8: the subscriber subscribes {o.Subjects:N0} literal three-token subjects `site.room<i>.temp` plus `site.*.humidity`, `*.*.alarm`, `site.hall.>`, `zone.>`; the publisher also publishes {Math.Max(1, o.Subjects / 9):N0} subjects `site.room<i>.humidity` that only `site.*.humidity` matches (a tenth of the publications), so each publication is delivered once, a tenth of them only through a wildcard.");
        sb.AppendLine("- Request/reply (S4 sequential, S7 concurrent): Switchboard: REQUEST(sender, `echo`) → broker → REQUEST_IN to a responder connection whose sender declares request `echo` → REPLY → broker → REPLY. NATS: `PUB <service> <inbox>.<id>` to a responder subscribed to the service subject, which answers `PUB <inbox>.<id>`; the requester holds one wildcard inbox subscription. Both carry 16 B each way; latency is send to receipt on the requester (Stopwatch).");
        sb.AppendLine(C, $"- S5: each run opens {o.IdleConnections:N0} more connections that complete the handshake (HELLO/WELCOME; CONNECT + PING/PONG) and then only exchange keep-alive pings; the result is the broker's VmRSS growth (/proc/PID/status, {o.Settle.TotalSeconds:0.#} s after the last connection opened) divided by the connections. Connections stay open until the broker's last S5 run, so no run reuses memory freed by closed ones; S5 runs one broker at a time, after a warm-up of 200 connections. The brokers' RSS includes what the earlier scenarios left.");
        if (o.Targets.Any(t => t.Surface != Surface.Native))
        {
            sb.AppendLine("- Gateways: on `Switchboard JSON-lines` every connection speaks JSON lines (`hello`, `sender`, `listen`, `trigger` without an id, so fire and forget; `event` lines in; the 16 B payload travels as the JSON string `\"abcdefghijklmnop\"`); on `Switchboard WebSocket` the same binary frames travel in binary WebSocket messages on `/ws` of the broker's HTTP port (one message per send of up to 64 KiB); on `Switchboard SSE` the subscribers are `GET /events?event=%23bench` streams and the publisher sends binary frames over `/ws`.");
            sb.AppendLine(C, $"- S9: 1 publisher → {o.FanOut:N0} subscribers; every publication carries its send time (Stopwatch ticks as 16 decimal digits; the generator is one process, so both ends read one clock), and each subscriber times every delivery: the latency is send to receipt, pooled over all subscribers.");
        }
    }

    private static void WriteClientNotes(StringBuilder sb, LoadOptions o)
    {
        sb.AppendLine("How each broker is driven: with its own .NET client, the way its documentation recommends for throughput, one client (one connection) per publisher, subscriber, requester and responder, as in the raw table:");
        sb.AppendLine();
        sb.AppendLine("- Switchboard: `BusClient.ConnectAsync`; the publisher `AddSenderAsync(name, [\"#bench\"])` and `sender.TriggerAsync(\"#bench\", payload)` from one thread (a ValueTask that completes at once unless the client applies back-pressure); each subscriber `ListenAsync(null, \"#bench\", callback)` with the default listener options (ordered, one callback at a time) but `BorrowData = true` (the documented zero-copy receipt: the callback reads the payload before it returns). Requests: a responder `AddSenderAsync(service, [], {\"echo\": handler})`, the requester `RequestAsync(service, \"echo\", payload)`.");
        sb.AppendLine("- nats-server: NATS.Net `NatsConnection` (NATS.Net 3.3.2, default `NatsOpts`); the publisher `PublishAsync(\"bench\", payload)` (raw `byte[]`); each subscriber `SubscribeCoreAsync<NatsMemoryOwner<byte>>(\"bench\")` (it returns once the SUB is sent) and `await foreach` over its `Msgs`, which is what `SubscribeAsync` does, disposing each payload (the pooled-buffer type its docs give for receiving without a copy). Requests: the responder `await foreach` over `SubscribeCoreAsync<byte[]>(service)`'s `Msgs` with `msg.ReplyAsync(payload)`, the requester `RequestAsync<byte[], byte[]>(service, payload)`.");
        sb.AppendLine(C, $"- The same end-to-end window as the raw table bounds what is in flight; S6 subscribes {o.Subjects:N0} literal subjects plus the 4 wildcards (one `ListenAsync` or `SubscribeAsync` each) and publishes to random ones with the same sequence for both. S4 is one request at a time, S7 {o.Concurrency} loops each with one request in flight; latency is `RequestAsync` call to completion (Stopwatch).");
        sb.AppendLine("- client B/op: bytes the generator process allocated (both clients of the run: publisher and subscribers, or requester and responder) over the measured window per delivery or request, `GC.GetTotalAllocatedBytes(precise: true)` after − before; it includes the tool's own counting, which allocates nothing. thread-pool items/op and lock contentions/op are probes of where the clients' time goes, read the same way: `ThreadPool.CompletedWorkItemCount` (each item a hop to a pool thread) and `Monitor.LockContentionCount`.");
    }

    private static void WriteCosts(StringBuilder sb, LoadReport report, IReadOnlyList<BrokerTarget> targets)
    {
        var o = report.Options;
        sb.AppendLine();
        sb.AppendLine("Broker cost and integrity (medians; loss and errors summed over the measured runs). CPU is the broker process's utime + stime from /proc/PID/stat over the measured window, per delivery (S1–S3, S6, S8, S9) or per request (S4, S7); CPU % is of one core. The load generator runs on the same machine; its CPU % is shown for context.");
        sb.AppendLine();
        sb.Append("| # |");
        foreach (var target in targets)
        {
            var name = Column(o, target);
            sb.Append(C, $" {name} CPU ns/op | {name} CPU % | generator CPU % ({name}) | loss ({name}) | errors ({name}) |");
        }

        sb.AppendLine();
        sb.Append("|---|");
        foreach (var _ in targets)
        {
            sb.Append("---:|---:|---:|---:|---:|");
        }

        sb.AppendLine();
        foreach (var scenario in report.Scenarios.Where(s => s.Id != "S5"))
        {
            sb.Append(C, $"| {scenario.Id} |");
            foreach (var target in targets)
            {
                var name = target.Name;
                var runs = scenario.Runs[name];
                sb.Append(C, $" {Format(Median(scenario, name, m => m.BrokerCpuNsPerOp), "N0")} | {Format(Median(scenario, name, m => m.BrokerCpuPercent), "N0")} | {Format(Median(scenario, name, m => m.GeneratorCpuPercent), "N0")} | {runs.Sum(m => m.Loss).ToString("N0", C)} | {runs.Sum(m => m.Errors).ToString("N0", C)} |");
            }

            sb.AppendLine();
        }
    }

    private static void WriteRuns(StringBuilder sb, LoadReport report, IReadOnlyList<BrokerTarget> targets)
    {
        var o = report.Options;
        sb.AppendLine();
        sb.AppendLine("Every measured run (the headline metric of each):");
        sb.AppendLine();
        foreach (var scenario in report.Scenarios)
        {
            var metric = MetricsOf(scenario.Id, o.Driver)[0];
            foreach (var target in targets)
            {
                var values = scenario.Runs[target.Name].Select(m => m.Failed
                    ? "failed"
                    : Format(metric.Value(m), metric.Format) + (m.RssBefore is { } b && m.RssAfter is { } a ? string.Create(C, $" (RSS {b / 1048576.0:N1} → {a / 1048576.0:N1} MiB)") : string.Empty));
                sb.AppendLine(C, $"- {scenario.Id} {Column(o, target)}, {metric.Name}: {string.Join(", ", values)}");
            }
        }

        var problems = report.Scenarios
            .SelectMany(s => s.Runs.SelectMany(p => p.Value.Where(m => m.FirstError is not null).Select(m => $"{s.Id} {p.Key}: {m.FirstError}")))
            .Distinct()
            .ToList();
        if (problems.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Errors reported during the runs:");
            sb.AppendLine();
            foreach (var problem in problems)
            {
                sb.AppendLine(C, $"- {problem.Replace('|', '/')}");
            }
        }
    }

    /// <summary>How a target's column is headed: with the real clients, the client and the broker it drives.</summary>
    private static string Column(LoadOptions o, BrokerTarget target) => o.Driver == LoadDriver.Clients
        ? target.Kind == BrokerKind.Switchboard ? "BusClient" : "NATS.Net"
        : target.Name;

    /// <summary>The ratio a scenario must reach: issue 16 asks BusClient for 2× NATS.Net's throughput; everything else is measured against 1×.</summary>
    private static double Bar(LoadOptions o, string id, Better target) =>
        o.Driver == LoadDriver.Clients && target == Better.Higher && id is "S1" or "S2" or "S3" or "S6" ? 2.0 : 1.0;

    private static IReadOnlyList<Metric> MetricsOf(string id, LoadDriver driver) => driver == LoadDriver.Clients
        ? [.. MetricsOf(id), new("client B/op", m => m.ClientBytesPerOp, "N1", Better.None), new("thread-pool items/op", m => m.ClientWorkItemsPerOp, "N2", Better.None), new("lock contentions/op", m => m.ClientLockContentionsPerOp, "N3", Better.None)]
        : MetricsOf(id);

    private static IReadOnlyList<Metric> MetricsOf(string id) => id switch
    {
        "S1" or "S6" or "S8" => [new("msgs/s received", m => m.Rate, "N0", Better.Higher)],
        "S2" => [new("msgs/s received", m => m.Rate, "N0", Better.Higher), new("MB/s of payload", m => m.MegabytesPerSecond, "N1", Better.Higher)],
        "S3" => [new("deliveries/s", m => m.Rate, "N0", Better.Higher)],
        "S4" => [new("p50 µs", m => m.P50Us, "N1", Better.Lower), new("p99 µs", m => m.P99Us, "N1", Better.Lower), new("p99.9 µs", m => m.P999Us, "N1", Better.None), new("requests/s", m => m.Rate, "N0", Better.None)],
        "S5" => [new("bytes per idle connection", m => m.BytesPerConnection, "N0", Better.Lower)],
        "S9" => [new("deliveries/s", m => m.Rate, "N0", Better.Higher), new("p50 delivery µs", m => m.P50Us, "N1", Better.Lower), new("p99 delivery µs", m => m.P99Us, "N1", Better.Lower)],
        "S7" => [new("requests/s", m => m.Rate, "N0", Better.None), new("p50 µs", m => m.P50Us, "N1", Better.Lower), new("p99 µs", m => m.P99Us, "N1", Better.Lower), new("p99.9 µs", m => m.P999Us, "N1", Better.None)],
        _ => [],
    };

    private static double? Median(ScenarioReport scenario, string target, Func<RunMeasurement, double?> value)
    {
        var values = scenario.Runs[target].Where(m => !m.Failed).Select(value).OfType<double>().Order().ToList();
        if (values.Count == 0)
        {
            return null;
        }

        var mid = values.Count / 2;
        return values.Count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    private static string Format(double? value, string format) => value is { } v ? v.ToString(format, C) : "n/a";

    private static string TargetText(Better target, double bar) => target switch
    {
        Better.Higher => string.Create(C, $"≥ {bar:0.00}×"),
        Better.Lower => string.Create(C, $"≤ {bar:0.00}×"),
        _ => "—",
    };

    private static string Verdict(double? ratio, Better target, double bar)
    {
        if (ratio is not { } r || target == Better.None)
        {
            return target == Better.None ? string.Empty : "n/a";
        }

        return target switch
        {
            Better.Higher when r >= bar => "yes",
            Better.Higher => string.Create(C, $"no: {(1 - (r / bar)) * 100:0}% short"),
            Better.Lower when r <= bar => "yes",
            _ => string.Create(C, $"no: {((r / bar) - 1) * 100:0}% over"),
        };
    }
}
