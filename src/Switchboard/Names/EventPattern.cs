namespace Switchboard;

/// <summary>
/// Matches one event name against one pattern token by token. The routing index does the same for many patterns at
/// once; this is used where one pattern meets one name (retained values, a new listener).
/// </summary>
internal static class EventPattern
{
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
