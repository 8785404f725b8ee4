using System.CommandLine;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard req SENDER REQUEST [DATA]</c>: asks a sender and prints its answer.</summary>
public static class ReqCommand
{
    public static Command Create()
    {
        var sender = new Argument<string>("SENDER") { Description = "The sender asked." };
        var request = new Argument<string>("REQUEST") { Description = "The request name." };
        var data = new Argument<string?>("DATA")
        {
            Description = "The request's data: as it is when it is JSON, otherwise as a JSON string. None: an empty payload.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var timeout = new Option<int>("--timeout-ms", "-t") { Description = "How long to wait for the answer.", DefaultValueFactory = _ => 5000, HelpName = "MS" };
        timeout.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--timeout-ms must be at least 1.");
            }
        });
        var raw = new Option<bool>("--raw") { Description = "Send DATA's UTF-8 bytes as they are, JSON or not." };
        var server = BusConnection.ServerOption();

        var command = new Command("req", "Sends a request to a sender and prints its answer. A failure prints 'error: CODE: message' (no_sender, no_handler, handler_error, timeout) and exits 1.")
        {
            sender, request, data, timeout, raw, server,
        };
        command.With(
            "switchboard req clock get_ticks",
            "switchboard req thermostat set '{\"target\":21}' --timeout-ms 2000",
            "switchboard req printer status --server sb://10.0.0.5:7222");
        command.SetAction((result, _) => RunAsync(
            result.GetValue(server),
            result.GetValue(sender)!,
            result.GetValue(request)!,
            DataFormat.FromArgument(result.GetValue(data), result.GetValue(raw)),
            TimeSpan.FromMilliseconds(result.GetValue(timeout))));
        return command;
    }

    private static async Task<int> RunAsync(string[]? servers, string sender, string request, Payload data, TimeSpan timeout)
    {
        using var shutdown = new Shutdown();
        var ct = shutdown.Token;
        await using var bus = await BusConnection.ConnectAsync(servers, "switchboard req", ct);
        var answer = await bus.RequestAsync(sender, request, data, timeout, cancellationToken: ct);
        if (!answer.IsEmpty)
        {
            await Console.Out.WriteLineAsync(answer.ToString());
        }

        return ExitCodes.Ok;
    }
}
