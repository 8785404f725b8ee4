namespace Switchboard.Routing;

/// <summary>
/// A sender's declared events, found by name (a string or its characters) with one probe into one array: each entry
/// holds the name's hash and the slot itself, and the name compared is the slot's own.
/// </summary>
/// <remarks>
/// A sender with thousands of events triggered at random (S6, S8 in the load tool) misses the CPU cache on every
/// lookup; a frozen dictionary reads a bucket, a hash code, a key, the key's characters and a value before the slot,
/// this table an entry and the slot's name. Built once per registration, never changed: reads need no lock. Hashes
/// are randomized per process (<see cref="string.GetHashCode(ReadOnlySpan{char})"/>), so a client cannot choose names
/// that collide.
/// </remarks>
internal sealed class SlotTable
{
    private readonly Entry[] _entries;
    private readonly int _mask;

    public SlotTable(IEnumerable<EventSlot> slots)
    {
        var all = slots.ToArray();
        var size = 4;
        while (size < all.Length * 2)
        {
            size <<= 1;
        }

        _entries = new Entry[size];
        _mask = size - 1;
        foreach (var slot in all)
        {
            var hash = string.GetHashCode(slot.Event.AsSpan());
            var i = hash & _mask;
            while (_entries[i].Slot is not null)
            {
                i = (i + 1) & _mask;
            }

            _entries[i] = new Entry(hash, slot);
        }

        Count = all.Length;
    }

    /// <summary>Calls <paramref name="action"/> for every slot.</summary>
    public void ForEach(Action<EventSlot> action)
    {
        foreach (var entry in _entries)
        {
            if (entry.Slot is { } slot)
            {
                action(slot);
            }
        }
    }

    /// <summary>How many slots the table holds.</summary>
    public int Count { get; }

    public bool TryGetValue(string name, out EventSlot slot) => TryGetValue(name.AsSpan(), out slot);

    public bool TryGetValue(ReadOnlySpan<char> name, out EventSlot slot)
    {
        var hash = string.GetHashCode(name);
        var entries = _entries;
        for (var i = hash & _mask; ; i = (i + 1) & _mask)
        {
            var entry = entries[i];
            if (entry.Slot is null)
            {
                slot = null!;
                return false;
            }

            if (entry.Hash == hash && name.SequenceEqual(entry.Slot.Event))
            {
                slot = entry.Slot;
                return true;
            }
        }
    }

    private readonly record struct Entry(int Hash, EventSlot? Slot);
}
