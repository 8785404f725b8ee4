using System.Collections;
using System.Runtime.CompilerServices;

namespace Switchboard;

/// <summary>
/// Several event patterns for one listener, written as a collection expression:
/// <c>bus.ListenAsync("bot", ["#a", "#c"])</c>. A struct, so that
/// <c>ListenAsync(sender, null)</c> still means "any event".
/// </summary>
[CollectionBuilder(typeof(EventPatterns), nameof(Create))]
public readonly struct EventPatterns : IReadOnlyList<string>
{
    private readonly string[]? _patterns;

    private EventPatterns(string[] patterns) => _patterns = patterns;

    /// <summary>The patterns in the order given.</summary>
    public static EventPatterns Create(ReadOnlySpan<string> patterns) => new(patterns.ToArray());

    /// <inheritdoc />
    public int Count => _patterns?.Length ?? 0;

    /// <inheritdoc />
    public string this[int index] => (_patterns ?? [])[index];

    /// <inheritdoc />
    public IEnumerator<string> GetEnumerator() => ((IEnumerable<string>)(_patterns ?? [])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    internal string[] ToArray() => _patterns ?? [];
}
