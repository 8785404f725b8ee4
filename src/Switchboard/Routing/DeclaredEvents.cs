using System.Collections.Frozen;

namespace Switchboard.Routing;

/// <summary>
/// What a sender may trigger: the concrete events it declared, and the channel patterns it declared (<c>#direct.&gt;</c>,
/// <c>#rooms.*.chat</c>), each of which lets it trigger any concrete channel event that matches (a chat bot publishes to
/// any channel id; NATS users publish to subjects they never listed). Targeted events are declared one by one. The same
/// rules on every kind of bus: the client checks before it sends, the broker checks again.
/// </summary>
internal sealed class DeclaredEvents
{
    private readonly FrozenSet<string> _concrete;

    private DeclaredEvents(string[] all)
    {
        All = all;
        _concrete = all.Where(e => !NameRules.HasWildcards(e)).ToFrozenSet(StringComparer.Ordinal);
        Patterns = [.. all.Where(NameRules.HasWildcards)];
    }

    /// <summary>Everything declared, in declaration order without repeats (as presence lists it).</summary>
    public string[] All { get; }

    /// <summary>The concrete events declared.</summary>
    public IEnumerable<string> Concrete => _concrete;

    /// <summary>The channel patterns declared.</summary>
    public string[] Patterns { get; }

    /// <summary>Checks a declaration and drops repeats. Refuses a wildcard in a targeted event, reserved names and more
    /// than <see cref="NameRules.MaxDeclaredEvents"/> events.</summary>
    public static DeclaredEvents Validate(string sender, IReadOnlyList<string> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count > NameRules.MaxDeclaredEvents)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Sender '{sender}' declares {events.Count} events; a sender may declare at most {NameRules.MaxDeclaredEvents}. Declare a channel pattern (for example '#readings.>') to trigger many channel events.");
        }

        var seen = new HashSet<string>(events.Count, StringComparer.Ordinal);
        var declared = new List<string>(events.Count);
        foreach (var e in events)
        {
            ValidateOne(sender, e);
            if (seen.Add(e))
            {
                declared.Add(e);
            }
        }

        return new DeclaredEvents([.. declared]);
    }

    private static void ValidateOne(string sender, string e)
    {
        if (e is not null && NameRules.HasWildcards(e))
        {
            NameRules.ValidatePattern(e);
            if (!NameRules.IsChannel(e))
            {
                throw new InvalidNameException(e, $"Sender '{sender}' declares the pattern '{e}', but only channel events (starting with '#') may be declared as patterns; declare targeted events one by one.");
            }

            return;
        }

        NameRules.ValidateEvent(e);
        if (NameRules.IsReserved(e!))
        {
            throw new SwitchboardException(ErrorCodes.ReservedName, $"Sender '{sender}' declares '{e}', which only the bus itself raises (presence). Listen to it instead.");
        }
    }

    /// <summary>True when <paramref name="event"/> is declared as such.</summary>
    public bool IsConcrete(string @event) => _concrete.Contains(@event);

    /// <summary>True when the sender may trigger <paramref name="event"/>: declared, or a concrete, non-reserved channel
    /// event matching a declared pattern.</summary>
    public bool Allows(string @event) => _concrete.Contains(@event) || MatchesPattern(@event);

    /// <summary>True when <paramref name="event"/> is a concrete channel event (not reserved) that a declared pattern matches.</summary>
    public bool MatchesPattern(string @event)
    {
        if (Patterns.Length == 0 || !NameRules.IsChannel(@event) || NameRules.IsReserved(@event) || NameRules.HasWildcards(@event))
        {
            return false;
        }

        foreach (var pattern in Patterns)
        {
            if (EventPattern.IsMatch(pattern, @event))
            {
                return true;
            }
        }

        return false;
    }
}
