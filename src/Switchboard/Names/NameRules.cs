namespace Switchboard;

/// <summary>
/// The naming rules, checked everywhere a name enters the bus (API calls, frames, JSON lines, HTTP).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Sender, producer and group names: 1 to <see cref="MaxSenderLength"/> characters, one token (no dots).</item>
/// <item>Event names: 1 to <see cref="MaxEventLength"/> characters, tokens separated by single dots, an optional
/// leading <c>#</c> that makes the event a channel event. No wildcards.</item>
/// <item>Patterns: event names whose whole tokens may be <c>*</c> (exactly one token) or, as the last token only,
/// <c>&gt;</c> (one or more tokens).</item>
/// <item>Topics and request names: event names without <c>#</c> and without wildcards.</item>
/// <item>Token characters: ASCII letters, digits, <c>_</c>, <c>-</c>, <c>:</c> and <c>@</c>.</item>
/// </list>
/// </remarks>
public static class NameRules
{
    /// <summary>The longest sender, producer or group name accepted.</summary>
    public const int MaxSenderLength = 128;

    /// <summary>The longest event name, pattern, topic or request name accepted.</summary>
    public const int MaxEventLength = 256;

    /// <summary>The most events (and channel patterns) one sender may declare.</summary>
    public const int MaxDeclaredEvents = 16_384;

    /// <summary>The most characters a sender's declared events and request names may add up to: its presence events
    /// (<c>#connect</c>, <c>#disconnect</c>) list them, and must stay well under the smallest frame a client may take (1 MiB).</summary>
    public const int MaxDeclarationChars = 256 * 1024;

    /// <summary>The prefix that marks a channel event.</summary>
    public const char ChannelPrefix = '#';

    /// <summary>The event the bus raises when a sender comes online.</summary>
    public const string ConnectEvent = "#connect";

    /// <summary>The event the bus raises when a sender leaves or its connection dies.</summary>
    public const string DisconnectEvent = "#disconnect";

    private const string AllowedCharacters = "ASCII letters, digits, '_', '-', ':' and '@'";

    /// <summary>True for the characters a token may hold.</summary>
    public static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or ':' or '@';

    /// <summary>True when <paramref name="eventName"/> is a channel event (starts with <c>#</c>).</summary>
    public static bool IsChannel(string eventName) => eventName.Length > 0 && eventName[0] == ChannelPrefix;

    /// <summary>True for the events only the bus may raise.</summary>
    public static bool IsReserved(string eventName) => eventName is ConnectEvent or DisconnectEvent;

    /// <summary>Checks a sender name; throws <see cref="InvalidNameException"/> saying what is wrong.</summary>
    public static void ValidateSender(string? name) => ValidateSingleToken(name, "Sender name");

    /// <summary>Checks a producer name.</summary>
    public static void ValidateProducer(string? name) => ValidateSingleToken(name, "Producer name");

    /// <summary>Checks a queue group name.</summary>
    public static void ValidateGroup(string? name) => ValidateSingleToken(name, "Group name");

    /// <summary>Checks an event name a sender declares or triggers (no wildcards).</summary>
    public static void ValidateEvent(string? name) => ValidateDotted(name, "Event name", allowChannel: true, allowWildcards: false);

    /// <summary>Checks an event pattern a listener registers (wildcards allowed).</summary>
    public static void ValidatePattern(string? pattern) => ValidateDotted(pattern, "Event pattern", allowChannel: true, allowWildcards: true);

    /// <summary>Checks a gather topic.</summary>
    public static void ValidateTopic(string? topic) => ValidateDotted(topic, "Topic", allowChannel: false, allowWildcards: false);

    /// <summary>Checks a request name.</summary>
    public static void ValidateRequest(string? name) => ValidateDotted(name, "Request name", allowChannel: false, allowWildcards: false);

    /// <summary>True when <paramref name="pattern"/> holds a <c>*</c> or <c>&gt;</c> token.</summary>
    public static bool HasWildcards(string pattern)
    {
        var body = pattern.AsSpan(IsChannel(pattern) ? 1 : 0);
        foreach (var range in body.Split('.'))
        {
            var token = body[range];
            if (token is "*" or ">")
            {
                return true;
            }
        }

        return false;
    }

    private static void ValidateSingleToken(string? name, string what)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new InvalidNameException(name, $"{what} is empty; it needs 1 to {MaxSenderLength} characters.");
        }

        if (name.Length > MaxSenderLength)
        {
            throw new InvalidNameException(name, $"{what} '{Shorten(name)}' is {name.Length} characters long; the limit is {MaxSenderLength}.");
        }

        for (var i = 0; i < name.Length; i++)
        {
            if (!IsTokenChar(name[i]))
            {
                throw new InvalidNameException(name, $"{what} '{name}' has {Describe(name[i])} at position {i}; allowed are {AllowedCharacters}.");
            }
        }
    }

    private static void ValidateDotted(string? name, string what, bool allowChannel, bool allowWildcards)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new InvalidNameException(name, $"{what} is empty; it needs 1 to {MaxEventLength} characters.");
        }

        if (name.Length > MaxEventLength)
        {
            throw new InvalidNameException(name, $"{what} '{Shorten(name)}' is {name.Length} characters long; the limit is {MaxEventLength}.");
        }

        var start = 0;
        if (name[0] == ChannelPrefix)
        {
            if (!allowChannel)
            {
                throw new InvalidNameException(name, $"{what} '{name}' starts with '#', which only event names may (to mark a channel event).");
            }

            start = 1;
            if (name.Length == 1)
            {
                throw new InvalidNameException(name, $"{what} '#' has nothing after the channel prefix '#'.");
            }
        }

        var tokenStart = start;
        for (var i = start; i <= name.Length; i++)
        {
            if (i < name.Length && name[i] != '.')
            {
                continue;
            }

            var length = i - tokenStart;
            if (length == 0)
            {
                var where = tokenStart == start ? "at the start" : i == name.Length ? "at the end" : $"at position {i} (two dots in a row)";
                throw new InvalidNameException(name, $"{what} '{name}' has an empty token {where}; tokens are separated by single dots.");
            }

            var token = name.AsSpan(tokenStart, length);
            if (token is "*" or ">")
            {
                if (!allowWildcards)
                {
                    throw new InvalidNameException(name, $"{what} '{name}' has the wildcard '{token}' at position {tokenStart}; wildcards are only allowed in listener patterns.");
                }

                if (token is ">" && i != name.Length)
                {
                    throw new InvalidNameException(name, $"{what} '{name}' has '>' at position {tokenStart} before the last token; '>' may only be the last token.");
                }
            }
            else
            {
                for (var j = 0; j < token.Length; j++)
                {
                    var c = token[j];
                    if (IsTokenChar(c))
                    {
                        continue;
                    }

                    var detail = c is '*' or '>'
                        ? $"'{c}' inside a token at position {tokenStart + j}; a wildcard must be a whole token"
                        : c == ChannelPrefix
                            ? $"'#' at position {tokenStart + j}; '#' may only be the first character (a channel event)"
                            : $"{Describe(c)} at position {tokenStart + j}; allowed are {AllowedCharacters}";
                    throw new InvalidNameException(name, $"{what} '{name}' has {detail}.");
                }
            }

            tokenStart = i + 1;
        }
    }

    private static string Describe(char c) => c switch
    {
        ' ' => "a space",
        '\t' => "a tab",
        '.' => "a dot",
        _ when char.IsControl(c) => $"the control character U+{(int)c:X4}",
        _ => $"the character '{c}'",
    };

    private static string Shorten(string name) => name.Length <= 40 ? name : string.Concat(name.AsSpan(0, 37), "...");
}
