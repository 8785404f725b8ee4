namespace Switchboard.Bridge;

/// <summary>Whether two event patterns (or names) can match a common event: how a bridge decides that a sender's
/// declared events (which may be channel patterns such as <c>#direct.&gt;</c>) concern one of its filters.</summary>
internal static class PatternOverlap
{
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
            var leftEnded = i >= left.Length;
            var rightEnded = i >= right.Length;
            if (leftEnded || rightEnded)
            {
                return leftEnded && rightEnded;
            }

            if (left[i] == ">" || right[i] == ">")
            {
                return true; // '>' takes one or more tokens, and both sides still have one here
            }

            if (left[i] != "*" && right[i] != "*" && !string.Equals(left[i], right[i], StringComparison.Ordinal))
            {
                return false;
            }
        }
    }
}
