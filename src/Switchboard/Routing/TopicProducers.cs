namespace Switchboard.Routing;

/// <summary>The producers of one topic: an immutable snapshot, replaced whole under the router lock.</summary>
internal sealed class TopicProducers
{
    public static readonly TopicProducers Empty = new([], []);

    public TopicProducers(ProducerRegistration[] ungrouped, ProducerGroup[] groups)
    {
        Ungrouped = ungrouped;
        Groups = groups;
    }

    public ProducerRegistration[] Ungrouped { get; }

    public ProducerGroup[] Groups { get; }

    public bool IsEmpty => Ungrouped.Length == 0 && Groups.Length == 0;

    public TopicProducers With(ProducerRegistration producer)
    {
        if (producer.Group is null)
        {
            return new([.. Ungrouped, producer], Groups);
        }

        var existing = Array.Find(Groups, g => g.Name == producer.Group);
        return existing is null
            ? new(Ungrouped, [.. Groups, new ProducerGroup(producer.Group, [producer])])
            : new(Ungrouped, [.. Groups.Select(g => g == existing ? new ProducerGroup(g.Name, [.. g.Members, producer]) : g)]);
    }

    public TopicProducers Without(ProducerRegistration producer)
    {
        if (producer.Group is null)
        {
            return new([.. Ungrouped.Where(p => p != producer)], Groups);
        }

        var groups = Groups
            .Select(g => g.Name == producer.Group ? new ProducerGroup(g.Name, [.. g.Members.Where(p => p != producer)]) : g)
            .Where(g => g.Members.Length > 0);
        return new(Ungrouped, [.. groups]);
    }

    /// <summary>Every ungrouped producer and one member of each group (round robin).</summary>
    public List<ProducerRegistration> Select()
    {
        var chosen = new List<ProducerRegistration>(Ungrouped.Length + Groups.Length);
        chosen.AddRange(Ungrouped);
        foreach (var group in Groups)
        {
            chosen.Add(group.Next());
        }

        return chosen;
    }
}

/// <summary>A producer queue group on one topic.</summary>
internal sealed class ProducerGroup
{
    private uint _next;

    public ProducerGroup(string name, ProducerRegistration[] members)
    {
        Name = name;
        Members = members;
    }

    public string Name { get; }

    public ProducerRegistration[] Members { get; }

    public ProducerRegistration Next() => Members[(Interlocked.Increment(ref _next) - 1) % (uint)Members.Length];
}
