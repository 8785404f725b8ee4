using System.Text;

namespace Switchboard.Wire;

/// <summary>
/// Turns the UTF-8 bytes of names read off the wire into strings, making each distinct name once: a connection sees
/// the same few sender and event names over and over, so after warm-up reading them allocates nothing.
/// Not thread-safe: one per read loop. Bounded, so a peer sending endless new names cannot grow it forever.
/// </summary>
public sealed class NameCache
{
    private const int MaxEntries = 4096;
    private const int MaxNameBytes = 512;
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _byChars;

    /// <summary>Creates an empty cache.</summary>
    public NameCache() => _byChars = _names.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>The string for <paramref name="utf8"/>.</summary>
    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxNameBytes)
        {
            return Encoding.UTF8.GetString(utf8);
        }

        Span<char> chars = stackalloc char[utf8.Length];
        var length = Encoding.UTF8.GetChars(utf8, chars);
        chars = chars[..length];
        if (_byChars.TryGetValue(chars, out var name))
        {
            return name;
        }

        name = new string(chars);
        if (_names.Count < MaxEntries)
        {
            _names[name] = name;
        }

        return name;
    }
}
