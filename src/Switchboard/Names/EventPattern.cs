namespace Switchboard;

/// <summary>
/// Matches one event name against one pattern token by token. The routing index does the same for many patterns at
/// once; this is used where one pattern meets one name (retained values, a new listener).
/// </summary>
internal static class EventPattern
{
    /// <summary>True when some event name matches both patterns (a listener of several patterns must not hold two
    /// that overlap, or a message would reach it twice).</summary>
    public static bool Overlaps(string a, string b)
    {
        if (NameRules.IsChannel(a) != NameRules.IsChannel(b))
        {
            return false;
        }

        var offset = NameRules.IsChannel(a) ? 1 : 0;
        var left = a[offset..].Split('.');
        var right = b[offset..].Split('.');
        for (var i = 0; ; i++)
        {
            var leftEnded = i == left.Length;
            var rightEnded = i == right.Length;
            if (leftEnded || rightEnded)
            {
                return leftEnded && rightEnded;
            }

            if (left[i] == ">" || right[i] == ">")
            {
                return true; // '>' takes one or more tokens and the other pattern has at least one more here
            }

            if (left[i] != "*" && right[i] != "*" && left[i] != right[i])
            {
                return false;
            }
        }
    }

    /// <summary>True when every event name that <paramref name="inner"/> matches (a pattern or a concrete name) is also
    /// matched by <paramref name="outer"/>: a permission that allows <c>sensors.&gt;</c> allows a listener of
    /// <c>sensors.*.temp</c>, not one of <c>*.temp</c>. Allocates nothing.</summary>
    public static bool Covers(string outer, string inner)
    {
        if (NameRules.IsChannel(outer) != NameRules.IsChannel(inner))
        {
            return false;
        }

        var offset = NameRules.IsChannel(outer) ? 1 : 0;
        var o = outer.AsSpan(offset);
        var i = inner.AsSpan(offset);
        while (true)
        {
            var oEnd = o.IndexOf('.');
            var oToken = oEnd < 0 ? o : o[..oEnd];
            if (oToken is ">")
            {
                return !i.IsEmpty; // one or more tokens left, whatever they are ('*' and '>' included)
            }

            if (i.IsEmpty)
            {
                return false;
            }

            var iEnd = i.IndexOf('.');
            var iToken = iEnd < 0 ? i : i[..iEnd];
            if (iToken is ">" || (oToken is not "*" && (iToken is "*" || !oToken.SequenceEqual(iToken))))
            {
                return false; // a '>' is only covered by a '>', a '*' only by a '*' or a '>'
            }

            if (oEnd < 0 || iEnd < 0)
            {
                return oEnd < 0 && iEnd < 0;
            }

            o = o[(oEnd + 1)..];
            i = i[(iEnd + 1)..];
        }
    }

    public static bool IsMatch(string pattern, string eventName)
    {
        if (NameRules.IsChannel(pattern) != NameRules.IsChannel(eventName))
        {
            return false;
        }

        var offset = NameRules.IsChannel(pattern) ? 1 : 0;
        var p = pattern.AsSpan(offset);
        var e = eventName.AsSpan(offset);
        while (true)
        {
            var pEnd = p.IndexOf('.');
            var pToken = pEnd < 0 ? p : p[..pEnd];
            if (pToken is ">")
            {
                return !e.IsEmpty;
            }

            if (e.IsEmpty)
            {
                return false;
            }

            var eEnd = e.IndexOf('.');
            var eToken = eEnd < 0 ? e : e[..eEnd];
            if (pToken is not "*" && !pToken.SequenceEqual(eToken))
            {
                return false;
            }

            if (pEnd < 0 || eEnd < 0)
            {
                return pEnd < 0 && eEnd < 0;
            }

            p = p[(pEnd + 1)..];
            e = e[(eEnd + 1)..];
        }
    }
}
