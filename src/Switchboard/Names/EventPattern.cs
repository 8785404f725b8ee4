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
