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
        var sbTarget = o.Targets.FirstOrDefault(t => t.Kind == BrokerKind.Switchboard);
        var natsTarget = o.Targets.FirstOrDefault(t => t.Kind == BrokerKind.Nats);
        var both = sbTarget is not null && natsTarget is not null;
        var kinds = o.Targets.Select(t => t.Kind).ToList();

        sb.AppendLine(C, $"Medians of {o.Runs} measured run(s) of {o.Duration.TotalSeconds:0.#} s per scenario and broker, after a {o.Warmup.TotalSeconds:0.#} s warm-up; runs alternate between the brokers. Window: {o.WindowMessages:N0} messages or {o.WindowBytes / 1024:N0} KiB of payload in flight, whichever is smaller. Whole table: {report.Elapsed.TotalMinutes:0.0} min.");
        sb.AppendLine();
        foreach (var target in o.Targets)
        {
            sb.AppendLine(C, $"- {target.Name}: 127.0.0.1:{target.Port}{(target.Pid is { } pid ? $", PID {pid}" : ", no PID (CPU and RSS not measured)")}{(target.Label is { } label ? $" — {label}" : string.Empty)}");
        }

        sb.AppendLine();
        sb.Append("| # | scenario | metric |");
        foreach (var kind in kinds)
        {
            sb.Append(C, $" {Name(kind)} |");
        }

        if (both)
        {
            sb.Append(" Switchboard / NATS | target | met |");
        }

        sb.AppendLine();
        sb.Append("|---|---|---|");
        foreach (var _ in kinds)
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
            foreach (var metric in MetricsOf(scenario.Id))
            {
                sb.Append(C, $"| {(first ? scenario.Id : string.Empty)} | {(first ? scenario.Title : string.Empty)} | {metric.Name} |");
                first = false;
                var medians = new Dictionary<BrokerKind, double?>();
                foreach (var kind in kinds)
                {
                    var median = Median(scenario, kind, metric.Value);
                    medians[kind] = median;
                    sb.Append(C, $" {Format(median, metric.Format)} |");
                }

                if (both)
                {
                    var ratio = medians[BrokerKind.Switchboard] is { } s && medians[BrokerKind.Nats] is { } n && n != 0 ? s / n : (double?)null;
                    sb.Append(C, $" {(ratio is { } r ? r.ToString("0.00", C) + "×" : "n/a")} | {TargetText(metric.Target)} | {Verdict(ratio, metric.Target)} |");
                }

                sb.AppendLine();
            }
        }

        sb.AppendLine();
        sb.AppendLine("How each broker is driven (one code path; only the codec differs):");
        sb.AppendLine();
        sb.AppendLine("- Publish/subscribe (S1–S3, S6, S8): Switchboard: the publisher's connection declares a sender with channel event `#bench` (ADD_SENDER) and sends TRIGGER frames; each subscriber sends LISTEN(any sender, `#bench`) and receives EVENT frames. NATS: `PUB bench n` / `SUB bench sid`, `MSG` in. Publications are pre-encoded once and copied into batches of up to 64 KiB per send; the publisher pauses while the slowest subscriber is more than the window behind.");
        sb.AppendLine(C, $"- S6: the subscriber subscribes {o.Subjects:N0} literal subjects `room<i>.temp` plus `*.humidity`, `*.*.temp`, `room1.*.temp`, `zone.>` (wildcards the matcher must consult, matching none of the published subjects, so each publication is delivered once); the publisher picks subjects with the same pseudo-random sequence for both brokers. Switchboard uses channel patterns (`#room<i>.temp`, `#*.humidity`, …): like a NATS subject, a channel event reaches its listeners whoever publishes it.");
        sb.AppendLine("- Request/reply (S4 sequential, S7 concurrent): Switchboard: REQUEST(sender, `echo`) → broker → REQUEST_IN to a responder connection whose sender declares request `echo` → REPLY → broker → REPLY. NATS: `PUB <service> <inbox>.<id>` to a responder subscribed to the service subject, which answers `PUB <inbox>.<id>`; the requester holds one wildcard inbox subscription. Both carry 16 B each way; latency is send to receipt on the requester (Stopwatch).");
        sb.AppendLine(C, $"- S5: each run opens {o.IdleConnections:N0} more connections that complete the handshake (HELLO/WELCOME; CONNECT + PING/PONG) and then only exchange keep-alive pings; the result is the broker's VmRSS growth (/proc/PID/status, {o.Settle.TotalSeconds:0.#} s after the last connection opened) divided by the connections. Connections stay open until the broker's last S5 run, so no run reuses memory freed by closed ones; S5 runs one broker at a time, after a warm-up of 200 connections. The brokers' RSS includes what the earlier scenarios left.");
        sb.AppendLine();
        sb.AppendLine(C, $"- S8: the subscriber subscribes {o.Subjects:N0} literal three-token subjects `site.room<i>.temp` plus `site.*.humidity`, `*.*.alarm`, `site.hall.>`, `zone.>`; the publisher also publishes {Math.Max(1, o.Subjects / 9):N0} subjects `site.room<i>.humidity` that only `site.*.humidity` matches (a tenth of the publications), so each publication is delivered once, a tenth of them only through a wildcard.");
        sb.AppendLine("Broker cost and integrity (medians; loss and errors summed over the measured runs). CPU is the broker process's utime + stime from /proc/PID/stat over the measured window, per delivery (S1–S3, S6, S8) or per request (S4, S7); CPU % is of one core. The load generator runs on the same machine; its CPU % is shown for context.");
        sb.AppendLine();
        sb.Append("| # |");
        foreach (var kind in kinds)
        {
            sb.Append(C, $" {Name(kind)} CPU ns/op | {Name(kind)} CPU % | generator CPU % ({Name(kind)}) | loss ({Name(kind)}) | errors ({Name(kind)}) |");
        }

        sb.AppendLine();
        sb.Append("|---|");
        foreach (var _ in kinds)
        {
            sb.Append("---:|---:|---:|---:|---:|");
        }

        sb.AppendLine();
        foreach (var scenario in report.Scenarios.Where(s => s.Id != "S5"))
        {
            sb.Append(C, $"| {scenario.Id} |");
            foreach (var kind in kinds)
            {
                var runs = scenario.Runs[kind];
                sb.Append(C, $" {Format(Median(scenario, kind, m => m.BrokerCpuNsPerOp), "N0")} | {Format(Median(scenario, kind, m => m.BrokerCpuPercent), "N0")} | {Format(Median(scenario, kind, m => m.GeneratorCpuPercent), "N0")} | {runs.Sum(m => m.Loss).ToString("N0", C)} | {runs.Sum(m => m.Errors).ToString("N0", C)} |");
            }

            sb.AppendLine();
        }

        sb.AppendLine();
        sb.AppendLine("Every measured run (the headline metric of each):");
        sb.AppendLine();
        foreach (var scenario in report.Scenarios)
        {
            var metric = MetricsOf(scenario.Id)[0];
            foreach (var kind in kinds)
            {
                var values = scenario.Runs[kind].Select(m => m.Failed
                    ? "failed"
                    : Format(metric.Value(m), metric.Format) + (m.RssBefore is { } b && m.RssAfter is { } a ? string.Create(C, $" (RSS {b / 1048576.0:N1} → {a / 1048576.0:N1} MiB)") : string.Empty));
                sb.AppendLine(C, $"- {scenario.Id} {Name(kind)}, {metric.Name}: {string.Join(", ", values)}");
            }
        }

        var problems = report.Scenarios
            .SelectMany(s => s.Runs.SelectMany(p => p.Value.Where(m => m.FirstError is not null).Select(m => $"{s.Id} {Name(p.Key)}: {m.FirstError}")))
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

        return sb.ToString();
    }

    private static string Name(BrokerKind kind) => kind == BrokerKind.Switchboard ? "Switchboard" : "nats-server";

    private static IReadOnlyList<Metric> MetricsOf(string id) => id switch
    {
        "S1" or "S6" or "S8" => [new("msgs/s received", m => m.Rate, "N0", Better.Higher)],
        "S2" => [new("msgs/s received", m => m.Rate, "N0", Better.Higher), new("MB/s of payload", m => m.MegabytesPerSecond, "N1", Better.Higher)],
        "S3" => [new("deliveries/s", m => m.Rate, "N0", Better.Higher)],
        "S4" => [new("p50 µs", m => m.P50Us, "N1", Better.Lower), new("p99 µs", m => m.P99Us, "N1", Better.Lower), new("p99.9 µs", m => m.P999Us, "N1", Better.None), new("requests/s", m => m.Rate, "N0", Better.None)],
        "S5" => [new("bytes per idle connection", m => m.BytesPerConnection, "N0", Better.Lower)],
        "S7" => [new("requests/s", m => m.Rate, "N0", Better.None), new("p50 µs", m => m.P50Us, "N1", Better.Lower), new("p99 µs", m => m.P99Us, "N1", Better.Lower), new("p99.9 µs", m => m.P999Us, "N1", Better.None)],
        _ => [],
    };

    private static double? Median(ScenarioReport scenario, BrokerKind kind, Func<RunMeasurement, double?> value)
    {
        var values = scenario.Runs[kind].Where(m => !m.Failed).Select(value).OfType<double>().Order().ToList();
        if (values.Count == 0)
        {
            return null;
        }

        var mid = values.Count / 2;
        return values.Count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    private static string Format(double? value, string format) => value is { } v ? v.ToString(format, C) : "n/a";

    private static string TargetText(Better target) => target switch
    {
        Better.Higher => "≥ 1.00×",
        Better.Lower => "≤ 1.00×",
        _ => "—",
    };

    private static string Verdict(double? ratio, Better target)
    {
        if (ratio is not { } r || target == Better.None)
        {
            return target == Better.None ? string.Empty : "n/a";
        }

        return target switch
        {
            Better.Higher when r >= 1 => "yes",
            Better.Higher => string.Create(C, $"no: {(1 - r) * 100:0}% short"),
            Better.Lower when r <= 1 => "yes",
            _ => string.Create(C, $"no: {(r - 1) * 100:0}% over"),
        };
    }
}
