using System.CommandLine;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard gather TOPIC [DATA]</c>: asks every producer of a topic at once and prints results as they arrive.</summary>
public static class GatherCommand
{
    public static Command Create()
    {
        var topic = new Argument<string>("TOPIC") { Description = "The topic whose producers are asked." };
        var data = new Argument<string?>("DATA")
        {
            Description = "What the producers receive: as it is when it is JSON, otherwise as a JSON string. None: an empty payload.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var ttl = new Option<int>("--ttl-ms", "-t") { Description = "How long results are accepted; later ones are dropped and counted as late.", DefaultValueFactory = _ => 1000, HelpName = "MS" };
        ttl.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--ttl-ms must be at least 1.");
            }
        });
        var json = new Option<bool>("--json") { Description = "JSON lines: {\"op\":\"result\",\"producer\":...,\"data\":...} per result, then {\"op\":\"gathered\",\"answered\":[...],\"missing\":[...],\"failed\":{...},\"late\":0}." };
        var raw = new Option<bool>("--raw") { Description = "Send DATA's UTF-8 bytes as they are, JSON or not." };
        var server = BusConnection.ServerOption();

        var command = new Command("gather", "Asks every producer of TOPIC at once. Prints 'PRODUCER DATA' per result as it arrives, then 'answered: ...; missing: ...; late: N' when all answered or the ttl passed.")
        {
            topic, data, ttl, json, raw, server,
        };
        command.With(
            "switchboard gather prices apple",
            "switchboard gather health --ttl-ms 300",
            "switchboard gather prices pear --json | jq -c 'select(.op == \"result\")'");
        command.SetAction((result, _) => RunAsync(
            result.GetValue(server),
            result.GetValue(topic)!,
            DataFormat.FromArgument(result.GetValue(data), result.GetValue(raw)),
            TimeSpan.FromMilliseconds(result.GetValue(ttl)),
            result.GetValue(json)));
        return command;
    }

    private static async Task<int> RunAsync(string[]? servers, string topic, Payload data, TimeSpan ttl, bool json)
    {
        using var shutdown = new Shutdown();
        var ct = shutdown.Token;
        await using var bus = await BusConnection.ConnectAsync(servers, "switchboard gather", ct);
        var call = bus.GatherAsync(topic, data, ttl, cancellationToken: ct);
        await foreach (var result in call) // ends with the gather (Ctrl+C ends the gather early)
        {
            await Console.Out.WriteLineAsync(json ? JsonResult(result) : Text(result));
            await Console.Out.FlushAsync(CancellationToken.None);
        }

        var summary = await call.Summary;
        await Console.Out.WriteLineAsync(json ? JsonSummary(summary) : Text(summary));
        return ExitCodes.Ok;
    }

    private static string Text(GatherResult result) =>
        result.Data.IsEmpty ? result.Producer : $"{result.Producer} {DataFormat.OneLine(result.Data)}";

    private static string Text(GatherSummary summary)
    {
        static string List(IEnumerable<string> names) => names.Any() ? string.Join(", ", names) : "-";
        var line = $"answered: {List(summary.Answered)}; missing: {List(summary.Missing)}";
        if (summary.Failed.Count > 0)
        {
            line += $"; failed: {string.Join(", ", summary.Failed.Select(f => $"{f.Key} ({f.Value.ReplaceLineEndings(" ")})"))}";
        }

        line += $"; late: {summary.Late}";
        return summary.Canceled ? line + "; canceled" : line;
    }

    private static string JsonResult(GatherResult result) => DataFormat.JsonLine(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("op", "result");
        writer.WriteString("producer", result.Producer);
        writer.WritePropertyName("data");
        DataFormat.WriteValue(writer, result.Data);
        writer.WriteEndObject();
    });

    private static string JsonSummary(GatherSummary summary) => DataFormat.JsonLine(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("op", "gathered");
        DataFormat.WriteArray(writer, "answered", summary.Answered);
        DataFormat.WriteArray(writer, "missing", summary.Missing);
        writer.WriteStartObject("failed");
        foreach (var (producer, error) in summary.Failed)
        {
            writer.WriteString(producer, error);
        }

        writer.WriteEndObject();
        writer.WriteNumber("late", summary.Late);
        if (summary.Canceled)
        {
            writer.WriteBoolean("canceled", true);
        }

        writer.WriteEndObject();
    });
}
