namespace Switchboard.Routing;

/// <summary>
/// The last retained value of each sender and event, bounded in count (<see cref="BusOptions.MaxRetained"/>), per value
/// (<see cref="BusOptions.MaxRetainedValueBytes"/>) and in total (<see cref="BusOptions.MaxRetainedBytes"/>). Past a bound a
/// new value is refused with an error naming the setting (updates that do not grow the store still pass). Called under
/// the router's lock.
/// </summary>
internal sealed class RetainedStore(BusOptions options)
{
    private readonly Dictionary<(string Sender, string Event), BusMessage> _values = [];

    /// <summary>Values kept.</summary>
    public int Count => _values.Count;

    /// <summary>Bytes the kept values account for (data, headers and names).</summary>
    public long Bytes { get; private set; }

    /// <summary>Keeps a detached <paramref name="message"/> as its event's value; an empty payload clears it.</summary>
    public void Set(BusMessage message)
    {
        var key = (message.Sender, message.Event);
        var had = _values.TryGetValue(key, out var old);
        var freed = had ? SizeOf(old) : 0;
        if (message.Data.IsEmpty)
        {
            Remove(key, had, freed);
            return;
        }

        var size = SizeOf(message);
        Check(message, had, size, freed);
        _values[key] = message;
        Bytes += size - freed;
    }

    /// <summary>Drops every value of <paramref name="sender"/> (its lifetime is <see cref="RetainedLifetime.WhileSenderOnline"/>).</summary>
    public void RemoveSender(string sender)
    {
        if (_values.Count == 0)
        {
            return;
        }

        foreach (var (key, message) in _values)
        {
            if (key.Sender == sender)
            {
                _values.Remove(key); // removing while enumerating a Dictionary is allowed
                Bytes -= SizeOf(message);
            }
        }
    }

    /// <summary>The values a new listener of <paramref name="sender"/> (null: any) and <paramref name="pattern"/> (null: any) gets.</summary>
    public List<BusMessage> Matching(string? sender, string? pattern)
    {
        var found = new List<BusMessage>();
        foreach (var ((s, e), message) in _values)
        {
            if ((sender is null || sender == s) && (pattern is null || EventPattern.IsMatch(pattern, e)))
            {
                found.Add(message);
            }
        }

        return found;
    }

    private void Remove((string, string) key, bool had, long freed)
    {
        if (had)
        {
            _values.Remove(key);
            Bytes -= freed;
        }
    }

    private void Check(in BusMessage message, bool had, long size, long freed)
    {
        var what = $"the retained trigger of '{message.Event}' by '{message.Sender}' ({size} bytes) was refused";
        if (size > options.MaxRetainedValueBytes)
        {
            throw Refused($"A retained value may take at most {options.MaxRetainedValueBytes} bytes (BusOptions.MaxRetainedValueBytes); {what}.");
        }

        if (!had && _values.Count >= options.MaxRetained)
        {
            throw Refused($"The bus already retains {options.MaxRetained} values (BusOptions.MaxRetained); {what}. Clear retained values with an empty retained trigger, or raise the limit.");
        }

        if (Bytes - freed + size > options.MaxRetainedBytes)
        {
            throw Refused($"Retained values already take {Bytes} of the {options.MaxRetainedBytes} bytes allowed (BusOptions.MaxRetainedBytes); {what}. Clear retained values with an empty retained trigger, or raise the limit.");
        }
    }

    private static SwitchboardException Refused(string message) => new(ErrorCodes.TooMany, message);

    private static long SizeOf(in BusMessage message)
    {
        long size = message.Data.Length + message.Sender.Length + message.Event.Length;
        if (message.Headers is { } headers)
        {
            for (var i = 0; i < headers.Count; i++)
            {
                size += headers[i].Key.Length + headers[i].Value.Length;
            }
        }

        return size;
    }
}
