using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Switchboard.Routing;

namespace Switchboard.Tests.Routing;

/// <summary>
/// Property-based checks of <see cref="RoutingIndex{T}"/>, <see cref="EventPattern"/> and the pattern rules of
/// <see cref="NameRules"/> against <see cref="NaiveRouting"/>, a reference written here without any code from src.
/// Names come from a tiny alphabet (tokens a, b, c; senders s1, s2, s3) so that registrations collide often.
/// </summary>
public sealed class RoutingIndexPropertyTests
{
    [Property(MaxTest = 300)]
    public Property Match_returns_exactly_the_multiset_the_naive_matcher_selects() =>
        Prop.ForAll(RoutingGen.MatchScenarios(), scenario =>
        {
            var index = new RoutingIndex<object>();
            var registered = new List<RouteItem>();
            foreach (var item in scenario.Items)
            {
                index.Add(item.Sender, item.Pattern, item);
                registered.Add(item);
            }

            Assert.Equal(registered.Count, index.Count);
            foreach (var (sender, eventName) in scenario.Messages)
            {
                NaiveRouting.AssertSameItems(
                    NaiveRouting.Select(registered, sender, eventName), index.Match(sender, eventName), $"Match({sender}, {eventName})");
            }
        });

    [Property(MaxTest = 300)]
    public Property After_removing_a_random_subset_matches_and_count_follow_the_rest() =>
        Prop.ForAll(RoutingGen.RemovalScenarios(), scenario =>
        {
            var index = new RoutingIndex<object>();
            foreach (var item in scenario.Items)
            {
                index.Add(item.Sender, item.Pattern, item);
            }

            var remaining = new List<RouteItem>(scenario.Items);
            for (var i = 0; i < scenario.Items.Length; i++)
            {
                if (!scenario.Remove[i])
                {
                    continue;
                }

                var item = scenario.Items[i];
                Assert.True(index.Remove(item.Sender, item.Pattern, item), $"Remove({item}) of a registered item returned false.");
                remaining.Remove(item);
                Assert.Equal(remaining.Count, index.Count);
            }

            // Removing what is not (or no longer) registered changes nothing.
            foreach (var item in scenario.Items.Where((_, i) => scenario.Remove[i]).Where(i => !remaining.Contains(i)))
            {
                Assert.False(index.Remove(item.Sender, item.Pattern, item), $"Second Remove({item}) returned true.");
            }

            foreach (var stranger in scenario.Strangers)
            {
                Assert.False(index.Remove(stranger.Sender, stranger.Pattern, stranger), $"Remove({stranger}) of a never-registered item returned true.");
            }

            Assert.Equal(remaining.Count, index.Count);
            foreach (var (sender, eventName) in scenario.Messages)
            {
                NaiveRouting.AssertSameItems(
                    NaiveRouting.Select(remaining, sender, eventName), index.Match(sender, eventName), $"Match({sender}, {eventName}) after removals");
            }
        });

    [Property(MaxTest = 300)]
    public Property Cached_lookup_agrees_with_match_across_interleaved_adds_and_removes() =>
        Prop.ForAll(RoutingGen.OperationScenarios(), scenario =>
        {
            var index = new RoutingIndex<object>();
            var live = new List<RouteItem>();
            var step = 0;
            foreach (var op in scenario.Operations)
            {
                step++;
                var versionBefore = index.Version;
                switch (op.Kind)
                {
                    case OpKind.Add:
                        index.Add(op.Item!.Sender, op.Item.Pattern, op.Item);
                        live.Add(op.Item);
                        Assert.NotEqual(versionBefore, index.Version);
                        break;
                    case OpKind.Remove when live.Count > 0:
                        var victim = live[op.Choice % live.Count];
                        Assert.True(index.Remove(victim.Sender, victim.Pattern, victim), $"step {step}: Remove({victim}) returned false.");
                        live.Remove(victim);
                        Assert.NotEqual(versionBefore, index.Version);
                        break;
                    case OpKind.Remove:
                        Assert.False(index.Remove(op.Item!.Sender, op.Item.Pattern, op.Item), $"step {step}: Remove on an empty index returned true.");
                        break;
                    case OpKind.Lookup:
                        var expected = NaiveRouting.Select(live, op.Sender!, op.Event!);
                        var context = $"step {step}: Lookup({op.Sender}, {op.Event})";
                        NaiveRouting.AssertSameItems(expected, index.Lookup(op.Sender!, op.Event!), context);
                        NaiveRouting.AssertSameItems(expected, index.Match(op.Sender!, op.Event!), context + " vs Match");

                        // Served from the cache this time.
                        NaiveRouting.AssertSameItems(expected, index.Lookup(op.Sender!, op.Event!), context + " (repeated)");
                        break;
                }

                Assert.Equal(live.Count, index.Count);
            }
        });

    [Property(MaxTest = 1000)]
    public Property EventPattern_IsMatch_agrees_with_the_naive_matcher() =>
        Prop.ForAll(RoutingGen.PatternAndEvent(), pair =>
        {
            var (pattern, eventName) = pair;
            Assert.True(
                NaiveRouting.PatternMatches(pattern, eventName) == EventPattern.IsMatch(pattern, eventName),
                $"EventPattern.IsMatch(\"{pattern}\", \"{eventName}\") = {EventPattern.IsMatch(pattern, eventName)}, naive says {NaiveRouting.PatternMatches(pattern, eventName)}.");
        });

    [Property(MaxTest = 1000)]
    public Property Validators_accept_exactly_the_well_formed_names_of_a_random_alphabet() =>
        Prop.ForAll(RoutingGen.RandomNames(), name =>
        {
            CheckValidator(NameRules.ValidatePattern, "ValidatePattern", name, NaiveRouting.IsWellFormed(name, allowChannel: true, allowWildcards: true));
            CheckValidator(NameRules.ValidateEvent, "ValidateEvent", name, NaiveRouting.IsWellFormed(name, allowChannel: true, allowWildcards: false));
            CheckValidator(NameRules.ValidateTopic, "ValidateTopic", name, NaiveRouting.IsWellFormed(name, allowChannel: false, allowWildcards: false));
            CheckValidator(NameRules.ValidateRequest, "ValidateRequest", name, NaiveRouting.IsWellFormed(name, allowChannel: false, allowWildcards: false));
        });

    [Property(MaxTest = 300)]
    public Property Every_generated_pattern_and_event_is_accepted() =>
        Prop.ForAll(RoutingGen.PatternAndEvent(), pair =>
        {
            var (pattern, eventName) = pair;
            Assert.True(NaiveRouting.IsWellFormed(pattern, allowChannel: true, allowWildcards: true), $"generator made a bad pattern '{pattern}'");
            NameRules.ValidatePattern(pattern);
            NameRules.ValidateEvent(eventName);

            // An event name is also a pattern, one that matches only itself.
            NameRules.ValidatePattern(eventName);
            Assert.True(EventPattern.IsMatch(eventName, eventName));
        });

    private static void CheckValidator(Action<string?> validate, string what, string name, bool wellFormed)
    {
        InvalidNameException? error = null;
        try
        {
            validate(name);
        }
        catch (InvalidNameException e)
        {
            error = e;
        }

        if (wellFormed)
        {
            Assert.True(error is null, $"{what}(\"{name}\") refused a well-formed name: {error?.Message}");
        }
        else
        {
            Assert.True(error is not null, $"{what}(\"{name}\") accepted a malformed name.");
            Assert.Equal(name, error.Name);
            Assert.Equal(ErrorCodes.InvalidName, error.Code);
        }
    }
}

/// <summary>A registered item: compared by reference, as the index does; remembers its registration.</summary>
internal sealed class RouteItem(int id, string? sender, string? pattern)
{
    private int _everAdded;

    public int Id { get; } = id;

    public string? Sender { get; } = sender;

    public string? Pattern { get; } = pattern;

    /// <summary>Set (before <c>Add</c>) by the concurrency test, so a reader can tell the item was registered.</summary>
    public bool EverAdded
    {
        get => Volatile.Read(ref _everAdded) != 0;
        set => Volatile.Write(ref _everAdded, value ? 1 : 0);
    }

    public override string ToString() => $"r{Id}({Sender ?? "any"}, {Pattern ?? "any"})";
}

/// <summary>The reference: how the design says routing works, written from the rules, not from src.</summary>
internal static class NaiveRouting
{
    /// <summary>'*' is one token, '>' one or more trailing tokens, channel-ness must agree.</summary>
    public static bool PatternMatches(string pattern, string eventName)
    {
        var patternIsChannel = pattern.StartsWith('#');
        if (patternIsChannel != eventName.StartsWith('#'))
        {
            return false;
        }

        var p = (patternIsChannel ? pattern[1..] : pattern).Split('.');
        var e = (patternIsChannel ? eventName[1..] : eventName).Split('.');
        for (var i = 0; i < p.Length; i++)
        {
            if (p[i] == ">")
            {
                return i == p.Length - 1 && e.Length > i;
            }

            if (i >= e.Length || (p[i] != "*" && p[i] != e[i]))
            {
                return false;
            }
        }

        return p.Length == e.Length;
    }

    /// <summary>Registration (sender or any, pattern or any) against message (sender, event).</summary>
    public static bool Matches(string? registeredSender, string? pattern, string sender, string eventName) =>
        (registeredSender is null || registeredSender == sender) && (pattern is null || PatternMatches(pattern, eventName));

    public static List<RouteItem> Select(IEnumerable<RouteItem> registered, string sender, string eventName) =>
        [.. registered.Where(r => Matches(r.Sender, r.Pattern, sender, eventName))];

    /// <summary>The naming rules from the design: 1..256 chars, optional leading '#', non-empty dot-separated
    /// tokens of [A-Za-z0-9_:@-], or (patterns only) a whole-token '*', or '>' as the last token.</summary>
    public static bool IsWellFormed(string name, bool allowChannel, bool allowWildcards)
    {
        if (name.Length is 0 or > 256)
        {
            return false;
        }

        var body = name;
        if (name[0] == '#')
        {
            if (!allowChannel)
            {
                return false;
            }

            body = name[1..];
        }

        var tokens = body.Split('.');
        for (var i = 0; i < tokens.Length; i++)
        {
            var token = tokens[i];
            var ok = token switch
            {
                "" => false,
                "*" => allowWildcards,
                ">" => allowWildcards && i == tokens.Length - 1,
                _ => token.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-' or ':' or '@'),
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Same items, same multiplicities, any order.</summary>
    public static void AssertSameItems(IEnumerable<RouteItem> expected, object[] actual, string context)
    {
        var expectedIds = expected.Select(i => i.Id).Order().ToArray();
        var actualIds = actual.Select(o => Assert.IsType<RouteItem>(o).Id).Order().ToArray();
        if (!expectedIds.SequenceEqual(actualIds))
        {
            Assert.Fail($"{context}: expected [{string.Join(", ", expected)}] but got [{string.Join(", ", actual)}].");
        }
    }
}

internal enum OpKind
{
    Add,
    Remove,
    Lookup,
}

internal sealed record Operation(OpKind Kind, RouteItem? Item, int Choice, string? Sender, string? Event)
{
    public override string ToString() => Kind switch
    {
        OpKind.Add => $"Add {Item}",
        OpKind.Remove => $"Remove live[{Choice} % count]",
        _ => $"Lookup({Sender}, {Event})",
    };
}

internal sealed record MatchScenario(RouteItem[] Items, (string Sender, string Event)[] Messages)
{
    public override string ToString() =>
        $"registrations [{string.Join(", ", Items.AsEnumerable())}] messages [{string.Join(", ", Messages)}]";
}

internal sealed record RemovalScenario(RouteItem[] Items, bool[] Remove, RouteItem[] Strangers, (string Sender, string Event)[] Messages)
{
    public override string ToString() =>
        $"registrations [{string.Join(", ", Items.Select((r, i) => Remove[i] ? $"-{r}" : r.ToString()))}] strangers [{string.Join(", ", Strangers.AsEnumerable())}] messages [{string.Join(", ", Messages)}]";
}

internal sealed record OperationScenario(Operation[] Operations)
{
    public override string ToString() => string.Join("; ", Operations.AsEnumerable());
}

/// <summary>Generators over a small alphabet so that names collide.</summary>
internal static class RoutingGen
{
    private static readonly string[] Tokens = ["a", "b", "c"];
    private static readonly string[] Senders = ["s1", "s2", "s3"];
    private static int s_nextId;

    private static Gen<string> Token => Gen.Elements(Tokens);

    public static Gen<string> Sender => Gen.Elements(Senders);

    /// <summary>1 to 4 tokens, a channel event half the time.</summary>
    public static Gen<string> EventName =>
        from channel in Gen.Elements(false, true)
        from n in Gen.Choose(1, 4)
        from tokens in Gen.ArrayOf(Token, n)
        select (channel ? "#" : "") + string.Join('.', tokens);

    /// <summary>1 to 4 tokens, '*' anywhere, '>' sometimes as the last one; the body only (no '#').</summary>
    public static Gen<string> PatternBody =>
        from n in Gen.Choose(1, 4)
        from tokens in Gen.ArrayOf(Gen.Frequency((3, Token), (1, Gen.Constant("*"))), n)
        from tail in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
        select string.Join('.', tail ? [.. tokens[..^1], ">"] : tokens);

    public static Gen<string> Pattern =>
        from channel in Gen.Elements(false, true)
        from body in PatternBody
        select (channel ? "#" : "") + body;

    /// <summary>(sender or null, pattern or null), never (null, non-channel pattern): the router refuses those.</summary>
    public static Gen<(string? Sender, string? Pattern)> Registration =>
        from sender in Gen.Frequency((4, Sender.Select(s => (string?)s)), (1, Gen.Constant<string?>(null)))
        from anyEvent in Gen.Frequency((7, Gen.Constant(false)), (1, Gen.Constant(true)))
        from channel in Gen.Elements(false, true)
        from body in PatternBody
        select (sender, anyEvent ? null : (sender is null || channel ? "#" : "") + body);

    /// <summary>An event the pattern matches: '*' becomes a token, '>' one or two.</summary>
    public static Gen<string> Instantiate(string pattern)
    {
        var channel = pattern.StartsWith('#');
        var tokens = (channel ? pattern[1..] : pattern).Split('.');
        return Gen.CollectToArray(tokens, t => t switch
            {
                "*" => Token,
                ">" => from k in Gen.Choose(1, 2) from more in Gen.ArrayOf(Token, k) select string.Join('.', more),
                _ => Gen.Constant(t),
            })
            .Select(parts => (channel ? "#" : "") + string.Join('.', parts));
    }

    /// <summary>Messages: random, or made to hit one of the registrations.</summary>
    private static Gen<(string Sender, string Event)> Message(RouteItem[] items)
    {
        var random = from s in Sender from e in EventName select (s, e);
        var targeted = items.Length == 0
            ? random
            : from item in Gen.Elements(items)
              from s in item.Sender is null ? Sender : Gen.Frequency((4, Gen.Constant(item.Sender ?? "s1")), (1, Sender))
              from e in item.Pattern is null ? EventName : Instantiate(item.Pattern)
              select (s, e);
        return Gen.Frequency((1, random), (2, targeted));
    }

    private static Gen<RouteItem[]> Items(int min, int max) =>
        from n in Gen.Choose(min, max)
        from registrations in Gen.ArrayOf(Registration, n)
        from duplicates in Gen.ArrayOf(Gen.Frequency((6, Gen.Constant(false)), (1, Gen.Constant(true))), n)
        select MakeItems(registrations, duplicates);

    /// <summary>Fresh items; a "duplicate" registers a second item under the previous registration's key.</summary>
    private static RouteItem[] MakeItems((string? Sender, string? Pattern)[] registrations, bool[] duplicates)
    {
        var items = new RouteItem[registrations.Length];
        for (var i = 0; i < registrations.Length; i++)
        {
            var (sender, pattern) = duplicates[i] && i > 0 ? (items[i - 1].Sender, items[i - 1].Pattern) : registrations[i];
            items[i] = NewItem(sender, pattern);
        }

        return items;
    }

    public static RouteItem NewItem(string? sender, string? pattern) => new(Interlocked.Increment(ref s_nextId), sender, pattern);

    public static Arbitrary<MatchScenario> MatchScenarios() =>
        Arb.From(
            from items in Items(0, 30)
            from m in Gen.Choose(1, 12)
            from messages in Gen.ArrayOf(Message(items), m)
            select new MatchScenario(items, messages),
            s => Enumerable.Range(0, s.Items.Length).Select(i => s with { Items = [.. s.Items[..i], .. s.Items[(i + 1)..]] }));

    public static Arbitrary<RemovalScenario> RemovalScenarios() =>
        Arb.From(
            from items in Items(0, 30)
            from remove in Gen.ArrayOf(Gen.Elements(false, true), items.Length)
            from strangers in Gen.ArrayOf(Registration.Select(r => NewItem(r.Sender, r.Pattern)), 3)
            from m in Gen.Choose(1, 12)
            from messages in Gen.ArrayOf(Message(items), m)
            select new RemovalScenario(items, remove, strangers, messages));

    public static Arbitrary<OperationScenario> OperationScenarios() =>
        Arb.From(
            from messages in Gen.ArrayOf(from s in Sender from e in EventName select (s, e), 4)
            from n in Gen.Choose(1, 60)
            from ops in Gen.ArrayOf(Operation(messages), n)
            select new OperationScenario(ops),
            s => Enumerable.Range(0, s.Operations.Length).Select(i => new OperationScenario([.. s.Operations[..i], .. s.Operations[(i + 1)..]])));

    /// <summary>Lookups draw from a small pool of messages so the cache is hit and must be invalidated.</summary>
    private static Gen<Operation> Operation((string Sender, string Event)[] pool)
    {
        var add = Registration.Select(r => new Operation(OpKind.Add, NewItem(r.Sender, r.Pattern), 0, null, null));
        var remove = Gen.Choose(0, 1000).Select(c => new Operation(OpKind.Remove, NewItem("s1", null), c, null, null));
        var lookup = Gen.Elements(pool).Select(m => new Operation(OpKind.Lookup, null, 0, m.Sender, m.Event));
        return Gen.Frequency((3, add), (2, remove), (4, lookup));
    }

    /// <summary>A pattern and an event it matches, or a random event, or one made for a tweaked pattern.</summary>
    public static Arbitrary<(string Pattern, string Event)> PatternAndEvent() =>
        Arb.From(
            from pattern in Pattern
            from eventName in Gen.Frequency(
                (2, Instantiate(pattern)),
                (2, EventName),
                (1, from other in Pattern from e in Instantiate(other) select e))
            select (pattern, eventName));

    /// <summary>Strings over ". * > # a b space", short ones, and long ones around the 256 limit (a well-formed
    /// filler, then a short random tail).</summary>
    public static Arbitrary<string> RandomNames()
    {
        var shortNames =
            from n in Gen.Choose(0, 10)
            from chars in Gen.ArrayOf(Gen.Frequency(
                (4, Gen.Constant('a')), (4, Gen.Constant('b')), (3, Gen.Constant('.')),
                (2, Gen.Constant('*')), (2, Gen.Constant('>')), (1, Gen.Constant('#')), (1, Gen.Constant(' '))), n)
            select new string(chars);
        var longNames =
            from channel in Gen.Elements(false, true)
            from n in Gen.Choose(250, 262)
            from tail in shortNames
            select (channel ? "#" : "") + Filler(n - tail.Length - (channel ? 2 : 1)) + "." + tail;
        return Arb.From(Gen.Frequency((6, shortNames), (1, longNames)), Shrink);

        // "aaaaaaa.aaaaaaa.…a": well-formed, exactly `length` characters.
        static string Filler(int length) =>
            string.Create(length, 0, static (span, _) =>
            {
                for (var i = 0; i < span.Length; i++)
                {
                    span[i] = i % 8 == 7 && i != span.Length - 1 ? '.' : 'a';
                }
            });

        static IEnumerable<string> Shrink(string s)
        {
            for (var i = 0; i < s.Length; i++)
            {
                yield return new StringBuilder(s).Remove(i, 1).ToString();
            }
        }
    }
}
