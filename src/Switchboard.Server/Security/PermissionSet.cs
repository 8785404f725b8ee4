namespace Switchboard.Server.Security;

/// <summary>
/// An identity's <see cref="Permissions"/>, checked once and ready to match: each check returns null when allowed, or
/// the <c>forbidden</c> error naming the rule, so the peers' paths throw or answer it as they do any refusal. Matching
/// reuses <see cref="EventPattern"/>: an allow pattern must cover what is asked (every name a listener's pattern could
/// match), a deny pattern refuses anything it overlaps. Checks allocate nothing when they allow.
/// </summary>
internal sealed class PermissionSet
{
    private readonly RuleList _senders;
    private readonly RuleList _events;
    private readonly RuleList _listen;
    private readonly RuleList _requests;
    private readonly RuleList _produce;
    private readonly RuleList _gather;

    private PermissionSet(RuleList senders, RuleList events, RuleList listen, RuleList requests, RuleList produce, RuleList gather)
    {
        (_senders, _events, _listen, _requests, _produce, _gather) = (senders, events, listen, requests, produce, gather);
    }

    /// <summary>Checks every pattern of <paramref name="permissions"/>; a bad one throws <c>invalid_argument</c> naming
    /// <paramref name="where"/>, the kind and the pattern.</summary>
    public static PermissionSet Compile(Permissions permissions, string where) => new(
        RuleList.Compile(permissions.Senders, RuleKind.SenderName, $"{where}, Senders"),
        RuleList.Compile(permissions.Events, RuleKind.Event, $"{where}, Events"),
        RuleList.Compile(permissions.Listen, RuleKind.Listen, $"{where}, Listen"),
        RuleList.Compile(permissions.Requests, RuleKind.Request, $"{where}, Requests"),
        RuleList.Compile(permissions.Produce, RuleKind.Topic, $"{where}, Produce"),
        RuleList.Compile(permissions.Gather, RuleKind.Topic, $"{where}, Gather"));

    /// <summary>May <paramref name="identity"/> register a sender named <paramref name="name"/> declaring <paramref name="events"/>?</summary>
    public SwitchboardException? Sender(Identity identity, string name, IReadOnlyList<string> events)
    {
        if (_senders.Refuse(null, name) is { } senderRule)
        {
            return Forbidden(identity, $"register the sender '{name}'", "Senders", senderRule);
        }

        foreach (var e in events)
        {
            if (_events.Refuse(null, e) is { } eventRule)
            {
                return Forbidden(identity, $"declare the event '{e}' (sender '{name}')", "Events", eventRule);
            }
        }

        return null;
    }

    /// <summary>May it listen to <paramref name="sender"/> (null: any) and <paramref name="pattern"/> (null: any event)?</summary>
    public SwitchboardException? Listen(Identity identity, string? sender, string? pattern) =>
        _listen.Refuse(sender, pattern) is { } rule
            ? Forbidden(identity, sender is null && pattern is null ? "listen to the whole bus (any sender, any event)" : $"listen to sender {sender ?? "(any)"}, event {pattern ?? "(any)"}", "Listen", rule)
            : null;

    /// <summary>True when it may listen to everything (what the dashboard shows).</summary>
    public bool AllowsWholeBus => _listen.Refuse(null, null) is null;

    /// <summary>May it ask <paramref name="sender"/> for <paramref name="request"/>?</summary>
    public SwitchboardException? Request(Identity identity, string sender, string request) =>
        _requests.Refuse(sender, request) is { } rule ? Forbidden(identity, $"request '{request}' of sender '{sender}'", "Requests", rule) : null;

    /// <summary>May it produce on <paramref name="topic"/>?</summary>
    public SwitchboardException? Produce(Identity identity, string topic) =>
        _produce.Refuse(null, topic) is { } rule ? Forbidden(identity, $"produce on the topic '{topic}'", "Produce", rule) : null;

    /// <summary>May it gather on <paramref name="topic"/> (or listen to its results)?</summary>
    public SwitchboardException? Gather(Identity identity, string topic) =>
        _gather.Refuse(null, topic) is { } rule ? Forbidden(identity, $"gather on the topic '{topic}'", "Gather", rule) : null;

    private static SwitchboardException Forbidden(Identity identity, string what, string kind, string rule) =>
        new(ErrorCodes.Forbidden, $"The identity '{identity.Name}' may not {what}: {rule.Replace("{kind}", kind, StringComparison.Ordinal)}.");

    private enum RuleKind
    {
        SenderName,
        Event,
        Listen,
        Request,
        Topic,
    }

    /// <summary>One pattern: an optional sender part (null: any sender) and an event, request, topic or name pattern.</summary>
    private readonly record struct Rule(string Text, string? Sender, string Pattern)
    {
        private bool AnySender => Sender is null;

        private bool AnyName => Pattern is ">";

        /// <summary>Allows (sender, pattern) only if every message they could name is covered.</summary>
        public bool Covers(string? sender, string? pattern) =>
            (AnySender || (sender is not null && sender == Sender))
            && (AnyName || (pattern is not null && EventPattern.Covers(Pattern, pattern)));

        /// <summary>Denies (sender, pattern) if any message they could name matches (a concrete name, as a request's, is
        /// matched without allocating).</summary>
        public bool Overlaps(string? sender, string? pattern) =>
            (AnySender || sender is null || sender == Sender)
            && (AnyName || pattern is null || (NameRules.HasWildcards(pattern) ? EventPattern.Overlaps(Pattern, pattern) : EventPattern.IsMatch(Pattern, pattern)));
    }

    /// <summary>One kind's compiled allow and deny lists.</summary>
    private sealed class RuleList
    {
        private static readonly RuleList Everything = new(null, []);
        private readonly Rule[]? _allow;
        private readonly Rule[] _deny;

        private RuleList(Rule[]? allow, Rule[] deny) => (_allow, _deny) = (allow, deny);

        public static RuleList Compile(PermissionRule? rule, RuleKind kind, string where)
        {
            if (rule is null || (rule.Allow is null && (rule.Deny is null || rule.Deny.Count == 0)))
            {
                return Everything;
            }

            return new RuleList(rule.Allow?.Select((p, i) => Parse(p, kind, $"{where}.Allow[{i}]")).ToArray(),
                [.. (rule.Deny ?? []).Select((p, i) => Parse(p, kind, $"{where}.Deny[{i}]"))]);
        }

        /// <summary>Null when (sender, pattern) is allowed; otherwise why not, with <c>{kind}</c> for the kind's name.</summary>
        public string? Refuse(string? sender, string? pattern)
        {
            foreach (var deny in _deny)
            {
                if (deny.Overlaps(sender, pattern))
                {
                    return $"denied by its {{kind}}.Deny rule '{deny.Text}'";
                }
            }

            if (_allow is null)
            {
                return null;
            }

            foreach (var allow in _allow)
            {
                if (allow.Covers(sender, pattern))
                {
                    return null;
                }
            }

            return _allow.Length == 0
                ? "its {kind}.Allow list is empty"
                : $"no {{kind}}.Allow rule covers it (allowed: {string.Join(", ", _allow.Take(8).Select(r => $"'{r.Text}'"))}{(_allow.Length > 8 ? ", ..." : "")})";
        }

        private static Rule Parse(string? text, RuleKind kind, string where)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                throw Bad(where, text, "is empty");
            }

            string? sender = null;
            var pattern = text;
            var slash = kind is RuleKind.Listen or RuleKind.Request ? text.IndexOf('/', StringComparison.Ordinal) : -1;
            if (slash >= 0)
            {
                sender = text[..slash] is "*" or ">" ? null : text[..slash];
                pattern = text[(slash + 1)..];
                if (sender is not null)
                {
                    Check(() => NameRules.ValidateSender(sender), where, text);
                }
            }

            if (pattern != ">" && !(kind == RuleKind.SenderName && pattern == "*"))
            {
                Check(() => Validate(pattern, kind), where, text);
            }

            return new Rule(text, sender, pattern);
        }

        private static void Validate(string pattern, RuleKind kind)
        {
            switch (kind)
            {
                case RuleKind.SenderName:
                    NameRules.ValidateSender(pattern);
                    break;
                case RuleKind.Event or RuleKind.Listen:
                    NameRules.ValidatePattern(pattern);
                    break;
                default:
                    NameRules.ValidatePattern(pattern);
                    if (NameRules.IsChannel(pattern))
                    {
                        throw new InvalidNameException(pattern, $"'{pattern}' starts with '#', which topics and request names never do");
                    }

                    break;
            }
        }

        private static void Check(Action validate, string where, string text)
        {
            try
            {
                validate();
            }
            catch (SwitchboardException ex)
            {
                throw Bad(where, text, ex.Message);
            }
        }

        private static SwitchboardException Bad(string where, string? text, string problem) =>
            new(ErrorCodes.InvalidArgument, $"{where} '{text}' is not a valid permission pattern: {problem}");
    }
}
