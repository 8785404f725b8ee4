using System.Collections;

namespace Switchboard;

/// <summary>
/// Headers on a message: an immutable, ordered list of name/value pairs (names compared ordinally, repeats allowed).
/// Trace context travels here (<c>traceparent</c>).
/// </summary>
public sealed class MessageHeaders : IReadOnlyList<KeyValuePair<string, string>>
{
    private readonly KeyValuePair<string, string>[] _items;

    /// <summary>Creates headers from pairs.</summary>
    public MessageHeaders(IEnumerable<KeyValuePair<string, string>> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        _items = [.. items];
        foreach (var (name, value) in _items)
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
            ArgumentNullException.ThrowIfNull(value);
        }
    }

    private MessageHeaders() => _items = [];

    /// <summary>No headers; every message without headers shares this instance.</summary>
    public static MessageHeaders Empty { get; } = new();

    /// <inheritdoc />
    public int Count => _items.Length;

    /// <inheritdoc />
    public KeyValuePair<string, string> this[int index] => _items[index];

    /// <summary>The first value of <paramref name="name"/>, or null.</summary>
    public string? this[string name]
    {
        get
        {
            foreach (var item in _items)
            {
                if (string.Equals(item.Key, name, StringComparison.Ordinal))
                {
                    return item.Value;
                }
            }

            return null;
        }
    }

    /// <summary>Creates headers from <c>(name, value)</c> tuples.</summary>
    public static MessageHeaders Of(params ReadOnlySpan<(string Name, string Value)> items)
    {
        if (items.IsEmpty)
        {
            return Empty;
        }

        var list = new List<KeyValuePair<string, string>>(items.Length);
        foreach (var (name, value) in items)
        {
            list.Add(new(name, value));
        }

        return new MessageHeaders(list);
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, string>>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
