using System.CommandLine;
using System.Text;
using Spectre.Console;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard senders</c>: the senders online, with their events and requests: a bordered table on a
/// terminal, plain aligned columns when redirected, a JSON array with <c>--json</c>.</summary>
public static class SendersCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "A JSON array: [{\"name\":...,\"events\":[...],\"requests\":[...],\"default_handler\":false}]." };
        var server = BusConnection.ServerOption();
        var command = new Command("senders", "Lists the senders online: name, the events they declared, the requests they answer ('*': any other request too).")
        {
            json, server,
        };
        command.With(
            "switchboard senders",
            "switchboard senders --server sb://10.0.0.5:7222",
            "switchboard senders | grep '#temperature'  # plain columns when piped",
            "switchboard senders --json | jq -r '.[].name'");
        command.SetAction((result, _) => RunAsync(result.GetValue(server), result.GetValue(json)));
        return command;
    }

    private static async Task<int> RunAsync(string[]? servers, bool json)
    {
        using var shutdown = new Shutdown();
        var ct = shutdown.Token;
        await using var bus = await BusConnection.ConnectAsync(servers, "switchboard senders", ct);
        var senders = (await bus.GetSendersAsync(ct)).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        if (json)
        {
            await Console.Out.WriteLineAsync(Json(senders));
            return ExitCodes.Ok;
        }

        if (senders.Count == 0)
        {
            await Console.Error.WriteLineAsync("no senders online");
            return ExitCodes.Ok;
        }

        if (Terminal.Stdout() is { } terminal)
        {
            terminal.Write(TerminalTable(senders));
            return ExitCodes.Ok;
        }

        await Console.Out.WriteAsync(Table(senders));
        return ExitCodes.Ok;
    }

    /// <summary>Plain aligned columns (no colours or box drawing, so it pipes into grep, cut and awk).</summary>
    public static string Table(IReadOnlyList<SenderInfo> senders)
    {
        ArgumentNullException.ThrowIfNull(senders);
        var rows = new List<string[]> { new[] { "NAME", "EVENTS", "REQUESTS" } };
        foreach (var sender in senders)
        {
            var requests = sender.HasDefaultHandler ? sender.Requests.Append("*") : sender.Requests;
            rows.Add([sender.Name, Join(sender.Events), Join(requests)]);
        }

        var widths = Enumerable.Range(0, 3).Select(column => rows.Max(row => row[column].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            text.Append(row[0].PadRight(widths[0] + 2)).Append(row[1].PadRight(widths[1] + 2)).Append(row[2]);
            text.Append(Environment.NewLine);
        }

        return text.ToString();
    }

    /// <summary>The same rows for a person at a terminal: borders, the names in colour, and how many are online.</summary>
    private static Spectre.Console.Table TerminalTable(IReadOnlyList<SenderInfo> senders)
    {
        var table = new Spectre.Console.Table { Border = TableBorder.Rounded };
        table.AddColumn(new TableColumn(new Text("NAME", new Style(Color.Aqua))));
        table.AddColumn(new TableColumn(new Text("EVENTS", new Style(Color.Aqua))));
        table.AddColumn(new TableColumn(new Text("REQUESTS", new Style(Color.Aqua))));
        foreach (var sender in senders)
        {
            var requests = sender.HasDefaultHandler ? sender.Requests.Append("*") : sender.Requests;
            table.AddRow(new Text(sender.Name, new Style(Color.Green)), new Text(Join(sender.Events)), new Text(Join(requests)));
        }

        table.Caption = new TableTitle(senders.Count == 1 ? "1 sender online" : $"{senders.Count} senders online", Style.Plain);
        return table;
    }

    private static string Join(IEnumerable<string> names) => names.Any() ? string.Join(", ", names) : "-";

    private static string Json(IReadOnlyList<SenderInfo> senders) => DataFormat.JsonLine(writer =>
    {
        writer.WriteStartArray();
        foreach (var sender in senders)
        {
            writer.WriteStartObject();
            writer.WriteString("name", sender.Name);
            DataFormat.WriteArray(writer, "events", sender.Events);
            DataFormat.WriteArray(writer, "requests", sender.Requests);
            writer.WriteBoolean("default_handler", sender.HasDefaultHandler);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    });
}
