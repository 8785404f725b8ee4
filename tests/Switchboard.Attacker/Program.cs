using System.Globalization;
using Switchboard.Attacker;

// Switchboard.Attacker ATTACK TCP_ADDRESS JSONL_ADDRESS HTTP_ADDRESS SECONDS
// Runs one attack against a broker for at most SECONDS (or until stdin closes), then exits 0; 2 on bad arguments.
if (args.Length != 5 || !Attacks.Names.Contains(args[0]) || !int.TryParse(args[4], CultureInfo.InvariantCulture, out var seconds) || seconds is < 1 or > 600)
{
    await Console.Error.WriteLineAsync($"usage: Switchboard.Attacker {{{string.Join('|', Attacks.Names)}}} sb://HOST:PORT jsonl://HOST:PORT http://HOST:PORT SECONDS");
    return 2;
}

using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
_ = Task.Run(async () =>
{
    // The test that started this process closes stdin to end the attack early (or dies, which closes it too).
    await Console.In.ReadToEndAsync(stop.Token).ConfigureAwait(false);
    await stop.CancelAsync().ConfigureAwait(false);
});

var endpoints = new Endpoints(new Uri(args[1]), new Uri(args[2]), new Uri(args[3]));
Console.WriteLine($"attacking: {args[0]}");
await Attacks.RunAsync(args[0], endpoints, stop.Token);
Console.WriteLine($"stopped: {args[0]}");
return 0;
