namespace Switchboard.Tests.Names;

/// <summary>Every naming rule, with the error text that says what is wrong and where.</summary>
public sealed class NameRulesTests
{
    private const string Allowed = "allowed are ASCII letters, digits, '_', '-', ':' and '@'.";

    public enum Kind
    {
        Sender,
        Producer,
        Group,
        Event,
        Pattern,
        Topic,
        Request,
    }

    private static void Validate(Kind kind, string? name)
    {
        switch (kind)
        {
            case Kind.Sender: NameRules.ValidateSender(name); break;
            case Kind.Producer: NameRules.ValidateProducer(name); break;
            case Kind.Group: NameRules.ValidateGroup(name); break;
            case Kind.Event: NameRules.ValidateEvent(name); break;
            case Kind.Pattern: NameRules.ValidatePattern(name); break;
            case Kind.Topic: NameRules.ValidateTopic(name); break;
            case Kind.Request: NameRules.ValidateRequest(name); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }

    private static InvalidNameException Refused(Kind kind, string? name)
    {
        var error = Assert.Throws<InvalidNameException>(() => Validate(kind, name));
        Assert.Equal(ErrorCodes.InvalidName, error.Code);
        Assert.Equal(name, error.Name);
        return error;
    }

    // ---- single-token names: senders, producers, groups ----

    [Theory]
    [InlineData(Kind.Sender, "a")]
    [InlineData(Kind.Sender, "a:b@c-d_e")]
    [InlineData(Kind.Sender, "Timer01")]
    [InlineData(Kind.Sender, "_")]
    [InlineData(Kind.Sender, "-")]
    [InlineData(Kind.Sender, "@:")]
    [InlineData(Kind.Producer, "p1")]
    [InlineData(Kind.Producer, "a:b@c-d_e")]
    [InlineData(Kind.Group, "workers")]
    [InlineData(Kind.Group, "a:b@c-d_e")]
    public void Single_token_names_accepted(Kind kind, string name) => Validate(kind, name);

    [Theory]
    [InlineData(Kind.Sender)]
    [InlineData(Kind.Producer)]
    [InlineData(Kind.Group)]
    public void Single_token_name_of_exactly_the_maximum_length_is_accepted(Kind kind) =>
        Validate(kind, new string('s', NameRules.MaxSenderLength));

    [Theory]
    [InlineData(Kind.Sender, "Sender name")]
    [InlineData(Kind.Producer, "Producer name")]
    [InlineData(Kind.Group, "Group name")]
    public void Single_token_name_one_over_the_maximum_is_refused_naming_length_and_limit(Kind kind, string what)
    {
        var name = new string('s', NameRules.MaxSenderLength + 1);
        var error = Refused(kind, name);
        Assert.Equal($"{what} '{new string('s', 37)}...' is 129 characters long; the limit is 128.", error.Message);
    }

    [Theory]
    [InlineData(Kind.Sender, null, "Sender name is empty; it needs 1 to 128 characters.")]
    [InlineData(Kind.Sender, "", "Sender name is empty; it needs 1 to 128 characters.")]
    [InlineData(Kind.Producer, "", "Producer name is empty; it needs 1 to 128 characters.")]
    [InlineData(Kind.Group, null, "Group name is empty; it needs 1 to 128 characters.")]
    [InlineData(Kind.Sender, "a.b", "Sender name 'a.b' has a dot at position 1; " + Allowed)]
    [InlineData(Kind.Group, "g.1", "Group name 'g.1' has a dot at position 1; " + Allowed)]
    [InlineData(Kind.Group, ".g", "Group name '.g' has a dot at position 0; " + Allowed)]
    [InlineData(Kind.Producer, "p.", "Producer name 'p.' has a dot at position 1; " + Allowed)]
    [InlineData(Kind.Sender, "my sender", "Sender name 'my sender' has a space at position 2; " + Allowed)]
    [InlineData(Kind.Sender, "a\tb", "Sender name 'a\tb' has a tab at position 1; " + Allowed)]
    [InlineData(Kind.Sender, "ab\u0001", "Sender name 'ab\u0001' has the control character U+0001 at position 2; " + Allowed)]
    [InlineData(Kind.Sender, "\u007f", "Sender name '\u007f' has the control character U+007F at position 0; " + Allowed)]
    [InlineData(Kind.Sender, "a\nb", "Sender name 'a\nb' has the control character U+000A at position 1; " + Allowed)]
    [InlineData(Kind.Sender, "caf\u00e9", "Sender name 'caf\u00e9' has the character '\u00e9' at position 3; " + Allowed)]
    [InlineData(Kind.Producer, "\u00e9t\u00e9", "Producer name '\u00e9t\u00e9' has the character '\u00e9' at position 0; " + Allowed)]
    [InlineData(Kind.Sender, "s#1", "Sender name 's#1' has the character '#' at position 1; " + Allowed)]
    [InlineData(Kind.Sender, "#s", "Sender name '#s' has the character '#' at position 0; " + Allowed)]
    [InlineData(Kind.Group, "*", "Group name '*' has the character '*' at position 0; " + Allowed)]
    [InlineData(Kind.Sender, "s>", "Sender name 's>' has the character '>' at position 1; " + Allowed)]
    [InlineData(Kind.Sender, "\uff21", "Sender name '\uff21' has the character '\uff21' at position 0; " + Allowed)]
    public void Single_token_names_refused_with_what_and_where(Kind kind, string? name, string message) =>
        Assert.Equal(message, Refused(kind, name).Message);

    // ---- dotted names: events, patterns, topics, request names ----

    [Theory]
    [InlineData(Kind.Event, "a")]
    [InlineData(Kind.Event, "#a")]
    [InlineData(Kind.Event, "a:b@c-d_e")]
    [InlineData(Kind.Event, "#a:b@c-d_e.f")]
    [InlineData(Kind.Event, "sensors.kitchen.temp")]
    [InlineData(Kind.Event, "#connect")]
    [InlineData(Kind.Event, "A.1._.-.:.@")]
    [InlineData(Kind.Pattern, "a")]
    [InlineData(Kind.Pattern, "#a")]
    [InlineData(Kind.Pattern, "*")]
    [InlineData(Kind.Pattern, ">")]
    [InlineData(Kind.Pattern, "#*")]
    [InlineData(Kind.Pattern, "#>")]
    [InlineData(Kind.Pattern, "*.*")]
    [InlineData(Kind.Pattern, "*.>")]
    [InlineData(Kind.Pattern, "sensors.*.temp")]
    [InlineData(Kind.Pattern, "#alerts.>")]
    [InlineData(Kind.Pattern, "a:b@c-d_e.*")]
    [InlineData(Kind.Topic, "topic1")]
    [InlineData(Kind.Topic, "a.b.c")]
    [InlineData(Kind.Topic, "a:b@c-d_e")]
    [InlineData(Kind.Request, "get_ticks")]
    [InlineData(Kind.Request, "a.b:c")]
    public void Dotted_names_accepted(Kind kind, string name) => Validate(kind, name);

    [Theory]
    [InlineData(Kind.Event, "")]
    [InlineData(Kind.Event, "#")]
    [InlineData(Kind.Pattern, "")]
    [InlineData(Kind.Pattern, "#")]
    [InlineData(Kind.Topic, "")]
    [InlineData(Kind.Request, "")]
    public void Dotted_name_of_exactly_the_maximum_length_is_accepted(Kind kind, string prefix)
    {
        // Tokens of 7 letters and dots, then letters up to exactly 256 characters in all.
        var name = prefix + string.Concat(Enumerable.Repeat("abcdefg.", 30));
        name += new string('z', NameRules.MaxEventLength - name.Length);
        Assert.Equal(256, name.Length);
        Validate(kind, name);
    }

    [Theory]
    [InlineData(Kind.Event, "Event name", "")]
    [InlineData(Kind.Event, "Event name", "#")]
    [InlineData(Kind.Pattern, "Event pattern", "")]
    [InlineData(Kind.Pattern, "Event pattern", "#")]
    [InlineData(Kind.Topic, "Topic", "")]
    [InlineData(Kind.Request, "Request name", "")]
    public void Dotted_name_one_over_the_maximum_is_refused_naming_length_and_limit(Kind kind, string what, string prefix)
    {
        var name = prefix + new string('x', NameRules.MaxEventLength + 1 - prefix.Length);
        var error = Refused(kind, name);
        Assert.Equal($"{what} '{name[..37]}...' is 257 characters long; the limit is 256.", error.Message);
    }

    [Fact]
    public void An_overlong_wildcard_pattern_is_refused_for_its_length_first()
    {
        var name = string.Concat(Enumerable.Repeat("*.", 128)) + ">";
        Assert.Equal(257, name.Length);
        Assert.Contains("is 257 characters long; the limit is 256.", Refused(Kind.Pattern, name).Message, StringComparison.Ordinal);
    }

    [Theory]
    // empty
    [InlineData(Kind.Event, null, "Event name is empty; it needs 1 to 256 characters.")]
    [InlineData(Kind.Event, "", "Event name is empty; it needs 1 to 256 characters.")]
    [InlineData(Kind.Pattern, "", "Event pattern is empty; it needs 1 to 256 characters.")]
    [InlineData(Kind.Topic, null, "Topic is empty; it needs 1 to 256 characters.")]
    [InlineData(Kind.Request, "", "Request name is empty; it needs 1 to 256 characters.")]
    // '#' alone
    [InlineData(Kind.Event, "#", "Event name '#' has nothing after the channel prefix '#'.")]
    [InlineData(Kind.Pattern, "#", "Event pattern '#' has nothing after the channel prefix '#'.")]
    // empty tokens
    [InlineData(Kind.Event, ".", "Event name '.' has an empty token at the start; tokens are separated by single dots.")]
    [InlineData(Kind.Event, ".a", "Event name '.a' has an empty token at the start; tokens are separated by single dots.")]
    [InlineData(Kind.Event, "#.a", "Event name '#.a' has an empty token at the start; tokens are separated by single dots.")]
    [InlineData(Kind.Event, "a.", "Event name 'a.' has an empty token at the end; tokens are separated by single dots.")]
    [InlineData(Kind.Event, "#a.b.", "Event name '#a.b.' has an empty token at the end; tokens are separated by single dots.")]
    [InlineData(Kind.Event, "a..b", "Event name 'a..b' has an empty token at position 2 (two dots in a row); tokens are separated by single dots.")]
    [InlineData(Kind.Event, "#ab...c", "Event name '#ab...c' has an empty token at position 4 (two dots in a row); tokens are separated by single dots.")]
    [InlineData(Kind.Pattern, "*.", "Event pattern '*.' has an empty token at the end; tokens are separated by single dots.")]
    [InlineData(Kind.Pattern, ".>", "Event pattern '.>' has an empty token at the start; tokens are separated by single dots.")]
    [InlineData(Kind.Topic, "a..b", "Topic 'a..b' has an empty token at position 2 (two dots in a row); tokens are separated by single dots.")]
    [InlineData(Kind.Request, ".get", "Request name '.get' has an empty token at the start; tokens are separated by single dots.")]
    // bad characters
    [InlineData(Kind.Event, "sensors.te mp", "Event name 'sensors.te mp' has a space at position 10; " + Allowed)]
    [InlineData(Kind.Event, " a", "Event name ' a' has a space at position 0; " + Allowed)]
    [InlineData(Kind.Event, "#a.\tb", "Event name '#a.\tb' has a tab at position 3; " + Allowed)]
    [InlineData(Kind.Event, "a.b\u0000", "Event name 'a.b\u0000' has the control character U+0000 at position 3; " + Allowed)]
    [InlineData(Kind.Pattern, "a.\u001b", "Event pattern 'a.\u001b' has the control character U+001B at position 2; " + Allowed)]
    [InlineData(Kind.Event, "caf\u00e9.au.lait", "Event name 'caf\u00e9.au.lait' has the character '\u00e9' at position 3; " + Allowed)]
    [InlineData(Kind.Pattern, "*.\u00e9t\u00e9", "Event pattern '*.\u00e9t\u00e9' has the character '\u00e9' at position 2; " + Allowed)]
    [InlineData(Kind.Topic, "t/1", "Topic 't/1' has the character '/' at position 1; " + Allowed)]
    [InlineData(Kind.Request, "get,ticks", "Request name 'get,ticks' has the character ',' at position 3; " + Allowed)]
    // '#' other than first
    [InlineData(Kind.Event, "a#b", "Event name 'a#b' has '#' at position 1; '#' may only be the first character (a channel event).")]
    [InlineData(Kind.Event, "##a", "Event name '##a' has '#' at position 1; '#' may only be the first character (a channel event).")]
    [InlineData(Kind.Pattern, "a.#b", "Event pattern 'a.#b' has '#' at position 2; '#' may only be the first character (a channel event).")]
    [InlineData(Kind.Pattern, "a.#", "Event pattern 'a.#' has '#' at position 2; '#' may only be the first character (a channel event).")]
    // wildcards where there may be none
    [InlineData(Kind.Event, "a.*", "Event name 'a.*' has the wildcard '*' at position 2; wildcards are only allowed in listener patterns.")]
    [InlineData(Kind.Event, "#a.>", "Event name '#a.>' has the wildcard '>' at position 3; wildcards are only allowed in listener patterns.")]
    [InlineData(Kind.Event, "*", "Event name '*' has the wildcard '*' at position 0; wildcards are only allowed in listener patterns.")]
    [InlineData(Kind.Topic, "a.*", "Topic 'a.*' has the wildcard '*' at position 2; wildcards are only allowed in listener patterns.")]
    [InlineData(Kind.Topic, ">", "Topic '>' has the wildcard '>' at position 0; wildcards are only allowed in listener patterns.")]
    [InlineData(Kind.Request, "get.>", "Request name 'get.>' has the wildcard '>' at position 4; wildcards are only allowed in listener patterns.")]
    // wildcard inside a token
    [InlineData(Kind.Pattern, "a*", "Event pattern 'a*' has '*' inside a token at position 1; a wildcard must be a whole token.")]
    [InlineData(Kind.Pattern, "a.**", "Event pattern 'a.**' has '*' inside a token at position 2; a wildcard must be a whole token.")]
    [InlineData(Kind.Pattern, "#b>", "Event pattern '#b>' has '>' inside a token at position 2; a wildcard must be a whole token.")]
    [InlineData(Kind.Pattern, "a.>>", "Event pattern 'a.>>' has '>' inside a token at position 2; a wildcard must be a whole token.")]
    [InlineData(Kind.Pattern, "*>", "Event pattern '*>' has '*' inside a token at position 0; a wildcard must be a whole token.")]
    [InlineData(Kind.Event, "a*", "Event name 'a*' has '*' inside a token at position 1; a wildcard must be a whole token.")]
    [InlineData(Kind.Topic, "t.x>", "Topic 't.x>' has '>' inside a token at position 3; a wildcard must be a whole token.")]
    // '>' not last
    [InlineData(Kind.Pattern, "a.>.b", "Event pattern 'a.>.b' has '>' at position 2 before the last token; '>' may only be the last token.")]
    [InlineData(Kind.Pattern, ">.a", "Event pattern '>.a' has '>' at position 0 before the last token; '>' may only be the last token.")]
    [InlineData(Kind.Pattern, "#>.>", "Event pattern '#>.>' has '>' at position 1 before the last token; '>' may only be the last token.")]
    [InlineData(Kind.Pattern, "*.>.*", "Event pattern '*.>.*' has '>' at position 2 before the last token; '>' may only be the last token.")]
    // topics and request names are never channels
    [InlineData(Kind.Topic, "#a", "Topic '#a' starts with '#', which only event names may (to mark a channel event).")]
    [InlineData(Kind.Topic, "#", "Topic '#' starts with '#', which only event names may (to mark a channel event).")]
    [InlineData(Kind.Request, "#get", "Request name '#get' starts with '#', which only event names may (to mark a channel event).")]
    [InlineData(Kind.Request, "#*", "Request name '#*' starts with '#', which only event names may (to mark a channel event).")]
    public void Dotted_names_refused_with_what_and_where(Kind kind, string? name, string message) =>
        Assert.Equal(message, Refused(kind, name).Message);

    // ---- the helpers ----

    [Theory]
    [InlineData('a', true)]
    [InlineData('Z', true)]
    [InlineData('0', true)]
    [InlineData('9', true)]
    [InlineData('_', true)]
    [InlineData('-', true)]
    [InlineData(':', true)]
    [InlineData('@', true)]
    [InlineData('.', false)]
    [InlineData('#', false)]
    [InlineData('*', false)]
    [InlineData('>', false)]
    [InlineData(' ', false)]
    [InlineData('/', false)]
    [InlineData('\u00e9', false)]
    [InlineData('\u0660', false)] // ARABIC-INDIC DIGIT ZERO: a digit, but not ASCII
    [InlineData('\u0000', false)]
    public void IsTokenChar(char c, bool expected) => Assert.Equal(expected, NameRules.IsTokenChar(c));

    [Theory]
    [InlineData("#a", true)]
    [InlineData("#", true)]
    [InlineData("a", false)]
    [InlineData("a#", false)]
    [InlineData("", false)]
    public void IsChannel(string name, bool expected) => Assert.Equal(expected, NameRules.IsChannel(name));

    [Theory]
    [InlineData("#connect", true)]
    [InlineData("#disconnect", true)]
    [InlineData("connect", false)]
    [InlineData("#connect.x", false)]
    [InlineData("#Connect", false)]
    public void IsReserved(string name, bool expected) => Assert.Equal(expected, NameRules.IsReserved(name));

    [Theory]
    [InlineData("a.b", false)]
    [InlineData("a*", false)]
    [InlineData("a.b>", false)]
    [InlineData("*", true)]
    [InlineData(">", true)]
    [InlineData("#*", true)]
    [InlineData("#>", true)]
    [InlineData("a.*.c", true)]
    [InlineData("#alerts.>", true)]
    public void HasWildcards(string pattern, bool expected) => Assert.Equal(expected, NameRules.HasWildcards(pattern));

    [Fact]
    public void Every_refusal_is_an_InvalidNameException_carrying_the_name()
    {
        // The validators share one contract: the exception type, the code and the refused name.
        foreach (var kind in Enum.GetValues<Kind>())
        {
            var error = Refused(kind, "bad name");
            Assert.Contains("'bad name'", error.Message, StringComparison.Ordinal);
            Assert.Contains("a space at position 3", error.Message, StringComparison.Ordinal);
        }
    }
}
