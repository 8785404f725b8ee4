using Switchboard.Routing;

namespace Switchboard.Tests.Routing;

/// <summary>The table a sender's declared events are found in: every declared name is found, by string and by
/// characters, and nothing else is.</summary>
public sealed class SlotTableTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(11_111)]
    public void Every_declared_event_is_found_and_no_other(int count)
    {
        var index = new RoutingIndex<DeliveryTarget>();
        var names = Enumerable.Range(0, count).Select(i => $"site.room{i}.temp").ToArray();
        var table = new SlotTable(names.Select(n => new EventSlot(index, "s", n)));
        Assert.Equal(count, table.Count);
        foreach (var name in names)
        {
            Assert.True(table.TryGetValue(name, out var slot));
            Assert.Equal(name, slot.Event);
            Assert.True(table.TryGetValue(string.Concat(name.AsSpan(0, 4), name.AsSpan(4)).AsSpan(), out var byChars));
            Assert.Same(slot, byChars);
        }

        foreach (var other in new[] { "", "site", "site.room.temp", $"site.room{count}.temp", "site.room1.tem", "site.room1.tempx" })
        {
            Assert.False(table.TryGetValue(other, out _), other);
        }
    }
}
