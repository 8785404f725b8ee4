using System.Collections.Concurrent;

namespace Switchboard.Routing;

/// <summary>
/// Finds the registrations that match a message <c>(sender, event)</c>.
/// </summary>
/// <remarks>
/// <para>Registrations are <c>(sender or any, pattern or any)</c>. They live in token tries: one pair of tries
/// (targeted, channel) per named sender, one trie for channel patterns of any sender, plus flat lists for
/// "every event of sender S" and "every event on the bus". A lookup walks at most the event's tokens in at most
/// three tries, so its cost grows with the number of tokens and wildcard branches, not with the number of
/// registrations.</para>
/// <para>Readers take no lock (see <see cref="TrieNode{T}"/>). Writers serialize on one lock and bump
/// <see cref="Version"/> after each change; cached results remember the version they were computed at, so a result
/// computed during a change is recomputed on its next use rather than served stale. Each change also drops the cached
/// results (all of them stale from then on), so a removed registration — a departed peer and everything it holds — is
/// not kept alive by a lookup nobody repeats.</para>
/// </remarks>
internal sealed class RoutingIndex<T>
    where T : class
{
    /// <summary>Beyond this many cached (sender, event) pairs the cache starts over, so it stays bounded.</summary>
    public const int MaxCachedLookups = 16_384;

    private readonly Lock _writeLock = new();
    private readonly ConcurrentDictionary<string, SenderEntry> _senders = new(StringComparer.Ordinal);
    private readonly TrieNode<T> _anySenderChannels = new();
    private ConcurrentDictionary<(string Sender, string Event), CachedLookup> _cache = new();
    private int _cacheCount;
    private T[] _everything = [];
    private int _version;
    private int _count;

    /// <summary>Changes with every add and remove; compare to know whether a cached match is still good.</summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>The number of registrations.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds <paramref name="item"/> for <paramref name="sender"/> (null: any sender) and
    /// <paramref name="pattern"/> (null: any event). Names must already be validated.</summary>
    public void Add(string? sender, string? pattern, T item)
    {
        lock (_writeLock)
        {
            if (sender is null && pattern is null)
            {
                _everything = [.. _everything, item];
            }
            else if (sender is null)
            {
                Insert(_anySenderChannels, pattern!.AsSpan(1), item);
            }
            else
            {
                var entry = _senders.GetOrAdd(sender, static _ => new SenderEntry());
                if (pattern is null)
                {
                    entry.AllEvents = [.. entry.AllEvents, item];
                }
                else if (NameRules.IsChannel(pattern))
                {
                    Insert(entry.Channels, pattern.AsSpan(1), item);
                }
                else
                {
                    Insert(entry.Targeted, pattern, item);
                }
            }

            _count++;
            Changed();
        }
    }

    /// <summary>Removes one registration added with the same arguments; false when there was none.</summary>
    public bool Remove(string? sender, string? pattern, T item)
    {
        lock (_writeLock)
        {
            bool removed;
            if (sender is null && pattern is null)
            {
                removed = Without(_everything, item, out var rest);
                _everything = rest;
            }
            else if (sender is null)
            {
                removed = Delete(_anySenderChannels, pattern!.AsSpan(1), item);
            }
            else if (_senders.TryGetValue(sender, out var entry))
            {
                if (pattern is null)
                {
                    removed = Without(entry.AllEvents, item, out var rest);
                    entry.AllEvents = rest;
                }
                else
                {
                    removed = NameRules.IsChannel(pattern)
                        ? Delete(entry.Channels, pattern.AsSpan(1), item)
                        : Delete(entry.Targeted, pattern, item);
                }

                if (entry.IsEmpty)
                {
                    _senders.TryRemove(sender, out _);
                }
            }
            else
            {
                removed = false;
            }

            if (removed)
            {
                _count--;
                Changed();
            }

            return removed;
        }
    }

    /// <summary>Under the write lock: a new version, and no cached result of the old ones.</summary>
    private void Changed()
    {
        Interlocked.Increment(ref _version);
        if (Volatile.Read(ref _cacheCount) > 0)
        {
            Volatile.Write(ref _cache, new ConcurrentDictionary<(string, string), CachedLookup>());
            Volatile.Write(ref _cacheCount, 0);
        }
    }

    /// <summary>The registrations matching <c>(sender, eventName)</c>, from a bounded cache; the array is shared, do not modify it.</summary>
    public T[] Lookup(string sender, string eventName)
    {
        var version = Version;
        var cache = Volatile.Read(ref _cache);
        if (cache.TryGetValue((sender, eventName), out var cached) && cached.Version == version)
        {
            return cached.Items;
        }

        var items = Match(sender, eventName);
        if (Interlocked.Increment(ref _cacheCount) > MaxCachedLookups)
        {
            Volatile.Write(ref _cache, new ConcurrentDictionary<(string, string), CachedLookup>());
            Volatile.Write(ref _cacheCount, 0);
        }

        Volatile.Read(ref _cache)[(sender, eventName)] = new CachedLookup(version, items);
        return items;
    }

    /// <summary>Walks the tries without the cache (the work a cache miss does).</summary>
    public T[] Match(string sender, string eventName)
    {
        var found = MatchBuffer;
        found.Clear();
        MatchInto(sender, eventName, found);
        T[] items = found.Count == 0 ? [] : [.. found];
        found.Clear(); // the thread's buffer must not keep the matches alive (a listener that leaves, its peer)
        return items;
    }

    /// <summary>Walks the tries without the cache, adding matches to <paramref name="into"/>.</summary>
    public void MatchInto(string sender, string eventName, List<T> into)
    {
        into.AddRange(_everything);
        var isChannel = NameRules.IsChannel(eventName);
        var body = eventName.AsSpan(isChannel ? 1 : 0);
        if (_senders.TryGetValue(sender, out var entry))
        {
            into.AddRange(entry.AllEvents);
            Walk(isChannel ? entry.Channels : entry.Targeted, body, into);
        }

        if (isChannel)
        {
            Walk(_anySenderChannels, body, into);
        }
    }

    [ThreadStatic]
    private static List<T>? t_matchBuffer;

    private static List<T> MatchBuffer => t_matchBuffer ??= [];

    private static void Walk(TrieNode<T> node, ReadOnlySpan<char> rest, List<T> into)
    {
        while (true)
        {
            // A '>' after this node matches whatever remains (one or more tokens).
            into.AddRange(node.Tail);
            var dot = rest.IndexOf('.');
            var token = dot < 0 ? rest : rest[..dot];
            var last = dot < 0;
            var literal = node.Child(token);
            var star = node.Star;
            if (last)
            {
                if (literal is not null)
                {
                    into.AddRange(literal.Terminal);
                }

                if (star is not null)
                {
                    into.AddRange(star.Terminal);
                }

                return;
            }

            rest = rest[(dot + 1)..];
            if (star is not null)
            {
                if (literal is null)
                {
                    node = star;
                    continue;
                }

                Walk(star, rest, into);
            }

            if (literal is null)
            {
                return;
            }

            node = literal;
        }
    }

    private static void Insert(TrieNode<T> root, ReadOnlySpan<char> pattern, T item)
    {
        var node = root;
        foreach (var range in pattern.Split('.'))
        {
            var token = pattern[range];
            if (token is ">")
            {
                node.Tail = [.. node.Tail, item];
                return;
            }

            node = token is "*" ? node.Star ??= new TrieNode<T>() : node.GetOrAddChild(token.ToString());
        }

        node.Terminal = [.. node.Terminal, item];
    }

    private static bool Delete(TrieNode<T> node, ReadOnlySpan<char> pattern, T item)
    {
        var dot = pattern.IndexOf('.');
        var token = dot < 0 ? pattern : pattern[..dot];
        if (token is ">")
        {
            var removedTail = Without(node.Tail, item, out var restTail);
            node.Tail = restTail;
            return removedTail;
        }

        var child = token is "*" ? node.Star : node.Child(token);
        if (child is null)
        {
            return false;
        }

        bool removed;
        if (dot < 0)
        {
            removed = Without(child.Terminal, item, out var rest);
            child.Terminal = rest;
        }
        else
        {
            removed = Delete(child, pattern[(dot + 1)..], item);
        }

        // Prune so that churn of short-lived patterns does not grow the trie forever.
        if (child.IsEmpty)
        {
            if (token is "*")
            {
                node.Star = null;
            }
            else
            {
                node.RemoveChild(token.ToString());
            }
        }

        return removed;
    }

    private static bool Without(T[] items, T item, out T[] rest)
    {
        var index = Array.IndexOf(items, item);
        if (index < 0)
        {
            rest = items;
            return false;
        }

        rest = items.Length == 1 ? [] : [.. items.AsSpan(0, index), .. items.AsSpan(index + 1)];
        return true;
    }

    private sealed record CachedLookup(int Version, T[] Items);

    private sealed class SenderEntry
    {
        public T[] AllEvents { get; set; } = [];

        public TrieNode<T> Targeted { get; } = new();

        public TrieNode<T> Channels { get; } = new();

        public bool IsEmpty => AllEvents.Length == 0 && Targeted.IsEmpty && Channels.IsEmpty;
    }
}
