using System.Globalization;

namespace Switchboard.Bridge;

/// <summary>Reads and writes the <see cref="BridgeHeaders"/> on what a bridge forwards.</summary>
internal static class BridgeStamp
{
    /// <summary>The headers of a forwarded message: the original ones, <see cref="BridgeHeaders.Origin"/> kept or set to
    /// <paramref name="origin"/>, <paramref name="bridge"/> appended to <see cref="BridgeHeaders.Via"/>, one more hop.</summary>
    public static MessageHeaders Stamp(MessageHeaders headers, string? origin, string bridge)
    {
        var items = new List<KeyValuePair<string, string>>(headers.Count + 3);
        string? via = null;
        var hops = 0;
        foreach (var header in headers)
        {
            switch (header.Key)
            {
                case BridgeHeaders.Origin:
                    origin = header.Value;
                    break;
                case BridgeHeaders.Via:
                    via = header.Value;
                    break;
                case BridgeHeaders.Hops:
                    _ = int.TryParse(header.Value, NumberStyles.None, CultureInfo.InvariantCulture, out hops);
                    break;
                default:
                    items.Add(header);
                    break;
            }
        }

        if (origin is not null)
        {
            items.Add(new(BridgeHeaders.Origin, origin));
        }

        items.Add(new(BridgeHeaders.Via, via is null ? bridge : via + "," + bridge));
        items.Add(new(BridgeHeaders.Hops, (hops + 1).ToString(CultureInfo.InvariantCulture)));
        return new MessageHeaders(items);
    }

    /// <summary>True when <paramref name="bridge"/> is named in <see cref="BridgeHeaders.Via"/>.</summary>
    public static bool Crossed(MessageHeaders headers, string bridge)
    {
        if (headers[BridgeHeaders.Via] is not { } via)
        {
            return false;
        }

        foreach (var range in via.AsSpan().Split(','))
        {
            if (via.AsSpan()[range].SequenceEqual(bridge))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The bridges crossed so far (<see cref="BridgeHeaders.Hops"/>; 0 when absent or unreadable).</summary>
    public static int Hops(MessageHeaders headers) =>
        headers[BridgeHeaders.Hops] is { } text && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var hops) ? hops : 0;

    /// <summary>The ttl a gather asks bridges to use (<see cref="BridgeHeaders.TtlMs"/>), or null.</summary>
    public static TimeSpan? Ttl(MessageHeaders headers) =>
        headers[BridgeHeaders.TtlMs] is { } text && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms > 0
            ? TimeSpan.FromMilliseconds(ms)
            : null;
}
