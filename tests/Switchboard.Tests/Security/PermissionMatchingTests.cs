using Switchboard.Server.Security;

namespace Switchboard.Tests.Security;

/// <summary>The matching under permissions: <see cref="EventPattern.Covers"/> checked exhaustively against its
/// definition (every name the inner pattern matches, the outer one matches) over a small alphabet, and the rules'
/// reading of senders, whole-bus listening and deny-overlaps.</summary>
public sealed class PermissionMatchingTests
{
    private static readonly string[] Tokens = ["a", "b", "*", ">"];
    private static readonly string[] NameTokens = ["a", "b", "c"];

    [Fact]
    public void Covers_is_exactly_every_name_of_the_inner_pattern_matching_the_outer_one()
    {
        var patterns = Compose(Tokens, 3).Where(IsValidPattern).SelectMany(p => new[] { p, "#" + p }).ToList();
        var names = Compose(NameTokens, 4).SelectMany(n => new[] { n, "#" + n }).ToList();
        foreach (var outer in patterns)
        {
            foreach (var inner in patterns)
            {
                var expected = names.Where(n => EventPattern.IsMatch(inner, n)).All(n => EventPattern.IsMatch(outer, n));
                Assert.True(expected == EventPattern.Covers(outer, inner), $"Covers('{outer}', '{inner}') should be {expected}");
            }
        }
    }

    [Theory]
    [InlineData("timer/tick", "timer", "tick", true)]
    [InlineData("timer/>", "timer", null, true)]
    [InlineData("timer/>", null, "#x", false)]
    [InlineData("*/#x.>", null, "#x.*", true)]
    [InlineData("*/#x.>", "anyone", "#x.a.b", true)]
    [InlineData("*/#x.*", null, "#x.>", false)]
    [InlineData("#x.>", null, "#x.a", true)]
    [InlineData("*/#>", null, null, false)]
    [InlineData("*/>", null, null, true)]
    public void A_listen_rule_allows_only_what_it_covers(string allow, string? sender, string? pattern, bool allowed)
    {
        var identity = new Identity("i", new Permissions { Listen = new() { Allow = [allow] } });
        Assert.Equal(allowed, identity.Rules.Listen(identity, sender, pattern) is null);
    }

    [Theory]
    [InlineData("timer/secret", "timer", "secret", false)]
    [InlineData("timer/secret", "timer", "*", false)]
    [InlineData("timer/secret", "timer", null, false)]
    [InlineData("timer/secret", null, "#x", true)]
    [InlineData("timer/secret", "other", "secret", true)]
    [InlineData("*/#admin.>", null, "#>", false)]
    [InlineData("*/#admin.>", "s", "#public.>", true)]
    public void A_deny_rule_refuses_whatever_it_could_match(string deny, string? sender, string? pattern, bool allowed)
    {
        var identity = new Identity("i", new Permissions { Listen = new() { Deny = [deny] } });
        Assert.Equal(allowed, identity.Rules.Listen(identity, sender, pattern) is null);
    }

    [Fact]
    public void Sender_request_and_topic_rules_read_names_and_patterns()
    {
        var identity = new Identity("i", new Permissions
        {
            Senders = new() { Allow = ["*"], Deny = ["root"] },
            Requests = new() { Allow = ["db/query.*", "cache/>"], Deny = ["cache/flush"] },
            Gather = new() { Allow = ["prices.>"] },
        });
        Assert.Null(identity.Rules.Sender(identity, "anyone", []));
        Assert.Contains("Senders.Deny rule 'root'", identity.Rules.Sender(identity, "root", [])!.Message, StringComparison.Ordinal);
        Assert.Null(identity.Rules.Request(identity, "db", "query.users"));
        Assert.NotNull(identity.Rules.Request(identity, "db", "drop"));
        Assert.Null(identity.Rules.Request(identity, "cache", "get.x"));
        Assert.NotNull(identity.Rules.Request(identity, "cache", "flush"));
        Assert.Null(identity.Rules.Gather(identity, "prices.eur.spot"));
        Assert.NotNull(identity.Rules.Gather(identity, "orders"));
        Assert.Null(identity.Rules.Produce(identity, "anything"));
    }

    [Theory]
    [InlineData("kitchen-*")]
    [InlineData("a.b")]
    [InlineData("")]
    public void A_bad_sender_pattern_is_refused_when_the_identity_is_made(string pattern)
    {
        var error = Assert.Throws<SwitchboardException>(() => new Identity("i", new Permissions { Senders = new() { Allow = [pattern] } }));
        Assert.Equal(ErrorCodes.InvalidArgument, error.Code);
        Assert.Contains("Senders.Allow[0]", error.Message, StringComparison.Ordinal);
    }

    private static IEnumerable<string> Compose(string[] tokens, int maxLength)
    {
        IEnumerable<string> current = tokens;
        var all = new List<string>(tokens);
        for (var length = 2; length <= maxLength; length++)
        {
            current = current.SelectMany(prefix => tokens.Select(t => prefix + "." + t)).ToList();
            all.AddRange(current);
        }

        return all;
    }

    private static bool IsValidPattern(string pattern)
    {
        var parts = pattern.Split('.');
        return Array.IndexOf(parts, ">") is var at && (at < 0 || at == parts.Length - 1);
    }
}
