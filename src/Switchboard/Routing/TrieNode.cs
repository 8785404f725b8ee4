using System.Collections.Concurrent;

namespace Switchboard.Routing;

/// <summary>
/// One token level of the pattern trie. Writers mutate it under the index's write lock; readers walk it with no
/// lock at all: children live in a <see cref="ConcurrentDictionary{TKey,TValue}"/> (lock-free reads, looked up by
/// span so the walk allocates nothing) and item lists are immutable arrays swapped whole, so a reader sees either
/// the old or the new list, never a torn one.
/// </summary>
internal sealed class TrieNode<T>
    where T : class
{
    private ConcurrentDictionary<string, TrieNode<T>>? _children;
    private ConcurrentDictionary<string, TrieNode<T>>.AlternateLookup<ReadOnlySpan<char>> _childrenBySpan;

    /// <summary>Items whose pattern ends exactly at this node.</summary>
    public T[] Terminal { get; set; } = [];

    /// <summary>Items whose pattern has <c>&gt;</c> right after this node's token (one or more further tokens).</summary>
    public T[] Tail { get; set; } = [];

    /// <summary>The child for a <c>*</c> token.</summary>
    public TrieNode<T>? Star { get; set; }

    public bool IsEmpty => Terminal.Length == 0 && Tail.Length == 0 && Star is null && (_children is null || _children.IsEmpty);

    public TrieNode<T>? Child(ReadOnlySpan<char> token)
    {
        var children = Volatile.Read(ref _children);
        return children is not null && _childrenBySpan.TryGetValue(token, out var child) ? child : null;
    }

    /// <summary>Returns the child for <paramref name="token"/>, creating it (write lock held).</summary>
    public TrieNode<T> GetOrAddChild(string token)
    {
        if (_children is null)
        {
            var children = new ConcurrentDictionary<string, TrieNode<T>>(StringComparer.Ordinal);
            _childrenBySpan = children.GetAlternateLookup<ReadOnlySpan<char>>();
            Volatile.Write(ref _children, children);
        }

        return _children.GetOrAdd(token, static _ => new TrieNode<T>());
    }

    /// <summary>Drops an empty child (write lock held).</summary>
    public void RemoveChild(string token) => _children?.TryRemove(token, out _);
}
