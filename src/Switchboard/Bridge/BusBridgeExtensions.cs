namespace Switchboard;

/// <summary>Starts a <see cref="BusBridge"/> from a bus.</summary>
public static class BusBridgeExtensions
{
    /// <summary>Joins <paramref name="bus"/> and <paramref name="other"/> on the patterns, requests and gather topics of
    /// <paramref name="options"/> (<see cref="BridgeOptions.Outbound"/> from <paramref name="bus"/> to
    /// <paramref name="other"/>, <see cref="BridgeOptions.Inbound"/> back). Returns once the bridge is up; dispose it to
    /// remove everything it registered on both buses. See <see cref="BusBridge"/> for names, loops, requests and gathers.</summary>
    /// <param name="bus">This bus.</param>
    /// <param name="other">The bus to join it to (a <see cref="BusClient"/>, another <see cref="LocalBus"/>, any <see cref="IBus"/>).</param>
    /// <param name="options">What crosses, each way.</param>
    /// <param name="cancellationToken">Abandons starting.</param>
    public static Task<BusBridge> BridgeAsync(this IBus bus, IBus other, BridgeOptions options, CancellationToken cancellationToken = default) =>
        BusBridge.StartAsync(bus, other, options, cancellationToken);
}
