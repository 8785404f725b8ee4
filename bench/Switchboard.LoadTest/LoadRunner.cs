using System.Diagnostics;
using System.Globalization;

namespace Switchboard.LoadTest;

/// <summary>One scenario's runs against each broker.</summary>
/// <param name="Id">S1 to S7.</param>
/// <param name="Title">What it measures.</param>
/// <param name="Runs">The measured runs per target, by <see cref="BrokerTarget.Name"/> (warm-ups excluded).</param>
public sealed record ScenarioReport(string Id, string Title, IReadOnlyDictionary<string, IReadOnlyList<RunMeasurement>> Runs);

/// <summary>Everything <see cref="LoadRunner.RunAsync"/> measured.</summary>
/// <param name="Options">What was asked.</param>
/// <param name="Scenarios">The scenarios in order.</param>
/// <param name="Elapsed">Wall time of the whole table.</param>
public sealed record LoadReport(LoadOptions Options, IReadOnlyList<ScenarioReport> Scenarios, TimeSpan Elapsed)
{
    /// <summary>The report as markdown tables (results with ratios and targets, broker cost, every run).</summary>
    public string ToMarkdown() => MarkdownReport.Write(this);
}

/// <summary>
/// The library entry point (<c>switchboard bench</c> calls it): runs the scenarios against brokers that are already
/// running on 127.0.0.1. For each scenario: one warm-up run per broker, then <see cref="LoadOptions.Runs"/> measured
/// runs alternating between the brokers (and alternating which goes first), so drift on the machine hits both alike.
/// </summary>
public static class LoadRunner
{
    /// <summary>Runs the table. Progress lines go to <paramref name="progress"/>; a run that fails is reported, not thrown.</summary>
    public static Task<LoadReport> RunAsync(LoadOptions options, TextWriter? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Task.Factory.StartNew(() => Run(options, progress ?? TextWriter.Null, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static LoadReport Run(LoadOptions options, TextWriter progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var reports = new List<ScenarioReport>();
        foreach (var id in options.Scenarios)
        {
            var scenario = Scenario.Create(id, options);
            var runs = options.Targets.ToDictionary(t => t.Name, _ => new List<RunMeasurement>());
            try
            {
                // Each target's warm-up, then the measured runs: alternating between the brokers (and which goes first)
                // unless the scenario keeps state per broker between its runs (S5), which runs one broker at a time.
                var rounds = scenario.AlternatesBrokers
                    ? [options.Targets]
                    : options.Targets.Select(t => (IReadOnlyList<BrokerTarget>)[t]).ToList();
                foreach (var targets in rounds)
                {
                    if (options.Warmup > TimeSpan.Zero)
                    {
                        foreach (var target in targets)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            var warm = RunOne(scenario, target, options, options.Warmup, warmup: true);
                            Log(progress, scenario, target, "warm-up", warm);
                        }
                    }

                    for (var r = 0; r < options.Runs; r++)
                    {
                        var order = r % 2 == 0 ? targets : targets.Reverse().ToList();
                        foreach (var target in order)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            var measurement = RunOne(scenario, target, options, options.Duration, warmup: false);
                            runs[target.Name].Add(measurement);
                            Log(progress, scenario, target, $"run {r + 1}/{options.Runs}", measurement);
                        }
                    }

                    foreach (var target in targets)
                    {
                        scenario.Complete(target, options);
                    }
                }
            }
            finally
            {
                foreach (var target in options.Targets)
                {
                    scenario.Complete(target, options);
                }
            }

            reports.Add(new ScenarioReport(scenario.Id, scenario.Title, runs.ToDictionary(p => p.Key, p => (IReadOnlyList<RunMeasurement>)p.Value)));
        }

        return new LoadReport(options, reports, clock.Elapsed);
    }

    private static RunMeasurement RunOne(Scenario scenario, BrokerTarget target, LoadOptions options, TimeSpan duration, bool warmup)
    {
        if (target.Pid is { } pid && !ProcessStats.IsAlive(pid))
        {
            return new RunMeasurement { Failed = true, Errors = 1, FirstError = $"the {target.Name} process {pid} is not running" };
        }

        try
        {
            return scenario.Run(target, options, duration, warmup);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return new RunMeasurement { Failed = true, Errors = 1, FirstError = $"{ex.GetType().Name}: {ex.Message}" };
        }
    }

    private static void Log(TextWriter progress, Scenario scenario, BrokerTarget target, string what, RunMeasurement m)
    {
        var c = CultureInfo.InvariantCulture;
        var text = m.Failed
            ? $"FAILED: {m.FirstError}"
            : scenario is IdleConnectionsScenario
                ? string.Create(c, $"{m.BytesPerConnection:N0} B/connection (RSS {m.RssBefore / 1024:N0} → {m.RssAfter / 1024:N0} KiB, {m.Received} connections)")
                : scenario is RequestScenario or ClientRequestScenario
                    ? string.Create(c, $"{m.Rate:N0} req/s, p50 {m.P50Us:N1} µs, p99 {m.P99Us:N1} µs, p99.9 {m.P999Us:N1} µs, broker {m.BrokerCpuNsPerOp:N0} ns/req {m.BrokerCpuPercent:N0}% CPU, loss {m.Loss}{(m.ClientBytesPerOp is { } b ? string.Create(c, $", client {b:N1} B/op") : string.Empty)}")
                    : string.Create(c, $"{m.Rate:N0}/s ({m.MegabytesPerSecond:N1} MB/s), broker {m.BrokerCpuNsPerOp:N0} ns/msg {m.BrokerCpuPercent:N0}% CPU, generator {m.GeneratorCpuPercent:N0}% CPU, sent {m.Sent:N0}, loss {m.Loss}{(m.P50Us is { } p50 ? string.Create(c, $", delivery p50 {p50:N0} µs p99 {m.P99Us:N0} µs") : string.Empty)}{(m.ClientBytesPerOp is { } bytes ? string.Create(c, $", client {bytes:N1} B/op") : string.Empty)}");
        if (!m.Failed && m.Errors > 0)
        {
            text += $"; {m.Errors} error(s), first: {m.FirstError}";
        }

        progress.WriteLine($"{scenario.Id} {target.Name,-11} {what,-9} {text}");
        progress.Flush();
    }
}
