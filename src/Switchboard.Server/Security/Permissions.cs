namespace Switchboard.Server.Security;

/// <summary>
/// What one identity may do, NATS-style: for each kind of operation an allow list and a deny list of patterns. A kind
/// left out (null) allows everything; a kind with <see cref="PermissionRule.Allow"/> allows only what a pattern there
/// covers; <see cref="PermissionRule.Deny"/> wins over allow. Patterns use the bus's own wildcards (<c>*</c> one token,
/// a last <c>&gt;</c> one or more), and <c>&gt;</c> alone means everything, channel events included. See
/// docs/security.md for the syntax of each kind, with examples.
/// </summary>
public sealed record Permissions
{
    /// <summary>No rule at all: everything is allowed (what an identity gets when it names no permissions).</summary>
    public static Permissions All { get; } = new();

    /// <summary>Sender names the identity may register: a name, or <c>*</c> for any.</summary>
    public PermissionRule? Senders { get; init; }

    /// <summary>Events (and channel patterns) its senders may declare, and so trigger: <c>sensors.&gt;</c>, <c>#alerts.*</c>.</summary>
    public PermissionRule? Events { get; init; }

    /// <summary>What it may listen to, as <c>SENDER/PATTERN</c> (<c>timer/tick</c>, <c>*/#alerts.&gt;</c>); <c>*</c> as the
    /// sender also covers listeners of any sender, and <c>*/&gt;</c> alone allows listening to the whole bus. A pattern
    /// without <c>SENDER/</c> means <c>*/PATTERN</c>.</summary>
    public PermissionRule? Listen { get; init; }

    /// <summary>Requests it may make, as <c>SENDER/REQUEST</c> (<c>timer/get_ticks</c>, <c>db/&gt;</c>, <c>*/status</c>).</summary>
    public PermissionRule? Requests { get; init; }

    /// <summary>Topics it may produce on (register a producer for).</summary>
    public PermissionRule? Produce { get; init; }

    /// <summary>Topics it may gather on (and whose results it may listen to).</summary>
    public PermissionRule? Gather { get; init; }
}

/// <summary>One kind's allow and deny patterns (<see cref="Permissions"/>).</summary>
public sealed record PermissionRule
{
    /// <summary>When set, only what one of these covers is allowed (null: everything not denied). To forbid a kind
    /// entirely, deny <c>&gt;</c> (an empty list cannot be told from a missing one in configuration files).</summary>
    public IReadOnlyList<string>? Allow { get; init; }

    /// <summary>What is refused even when allowed: anything one of these could match.</summary>
    public IReadOnlyList<string>? Deny { get; init; }
}
