using System.CommandLine;

namespace Switchboard.Cli;

/// <summary>The <c>--server</c> option every client command takes, and connecting with the errors the command line promises.</summary>
public static class BusConnection
{
    public const string DefaultServer = "sb://127.0.0.1:7222";

    private const string ConnectFailedPrefix = "Could not connect to any broker: ";

    /// <summary>The environment variable client commands take their credentials from: a token, USER:PASSWORD or a JWT.</summary>
    public const string CredentialsVariable = "SWITCHBOARD_CREDENTIALS";

    public static Option<string[]> ServerOption() => new("--server")
    {
        Description = "The broker: sb://HOST:PORT or sb+unix:///PATH. Repeat it, or separate with commas, to give several; the client moves between them.",
        HelpName = "URL",
        DefaultValueFactory = _ => [DefaultServer],
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>Splits repeated and comma-separated <c>--server</c> values and checks each is an address.</summary>
    public static IReadOnlyList<string> Addresses(IEnumerable<string>? servers)
    {
        var addresses = (servers ?? [])
            .SelectMany(s => s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (addresses.Count == 0)
        {
            throw new CliException(ExitCodes.Usage, $"--server needs a broker address such as {DefaultServer}");
        }

        foreach (var address in addresses)
        {
            try
            {
                BusAddress.Parse(address);
            }
            catch (SwitchboardException ex)
            {
                throw new CliException(ExitCodes.Usage, ex.Message);
            }
        }

        return addresses;
    }

    /// <summary>Connects to the first reachable broker; failing that, a <see cref="CliException"/> with <see cref="ExitCodes.Connect"/>.</summary>
    public static async Task<BusClient> ConnectAsync(IEnumerable<string>? servers, string clientName, CancellationToken cancellationToken)
    {
        var addresses = Addresses(servers);
        try
        {
            // Credentials come from the environment, never the command line (where ps would show them to everyone).
            var credentials = Environment.GetEnvironmentVariable(CredentialsVariable);
            return await BusClient.ConnectAsync(addresses, new BusClientOptions { ClientName = clientName, Credentials = string.IsNullOrEmpty(credentials) ? null : credentials }, cancellationToken);
        }
        catch (SwitchboardException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The client says "Could not connect to any broker: ADDRESS: REASON; ADDRESS: REASON".
            var detail = ex.Message.StartsWith(ConnectFailedPrefix, StringComparison.Ordinal)
                ? ex.Message[ConnectFailedPrefix.Length..]
                : $"{string.Join(", ", addresses)}: {ex.Message}";
            throw new CliException(ExitCodes.Connect, $"could not connect to {detail.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>Tells stderr when the client loses and finds its broker again (it reconnects by itself).</summary>
    public static void ReportConnectionChanges(BusClient bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.Disconnected += (_, e) => Console.Error.WriteLine($"disconnected from {e.Address} ({e.Reason ?? "closed"}); reconnecting");
        bus.Reconnected += (_, e) => Console.Error.WriteLine($"reconnected to {e.Address}");
    }
}
