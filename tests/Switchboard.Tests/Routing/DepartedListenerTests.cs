using System.Diagnostics;
using System.Runtime.CompilerServices;
using Switchboard.Routing;

namespace Switchboard.Tests.Routing;

/// <summary>
/// Memory comes back when a listener leaves: no cache of delivery targets keeps a removed one alive (on a broker a
/// listener holds its peer, with its outbound buffers; a reliability attack found 16 MiB kept by a lookup nobody repeated).
/// </summary>
public sealed class DepartedListenerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void A_removed_registration_is_not_kept_by_the_lookup_cache()
    {
        var index = new RoutingIndex<object>();
        var departed = AddLookUpAndRemove(index);
        Assert.Empty(index.Lookup("s1", "#tick"));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(departed.IsAlive, "the index's lookup cache still holds the removed registration");
    }

    [Fact]
    public async Task A_listener_that_left_is_not_kept_by_a_sender_that_has_not_triggered_since()
    {
        await using var bus = new LocalBus();
        await using var sender = await bus.AddSenderAsync("s1", ["#tick"], cancellationToken: Ct);
        var departed = await ListenReceiveAndLeaveAsync(bus, sender);
        // The sender does not trigger again: only the sweep after the departure can drop its plan.
        var waited = Stopwatch.StartNew();
        while (IsAlive(departed) && waited.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(50, Ct);
        }

        Assert.False(IsAlive(departed), $"the listener is still referenced {waited.Elapsed.TotalSeconds:0} s after it left");
        var seen = new TaskCompletionSource();
        await using var next = await bus.ListenAsync(null, "#tick", _ => seen.TrySetResult(), cancellationToken: Ct);
        await sender.TriggerAsync("#tick", Payload.Json(2), cancellationToken: Ct);
        await seen.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct); // the dropped plan is made again for the next listener
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference AddLookUpAndRemove(RoutingIndex<object> index)
    {
        var item = new object();
        index.Add(null, "#tick", item);
        Assert.Same(item, Assert.Single(index.Lookup("s1", "#tick")));
        Assert.True(index.Remove(null, "#tick", item));
        return new WeakReference(item);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<WeakReference> ListenReceiveAndLeaveAsync(LocalBus bus, ISender sender)
    {
        var received = new TaskCompletionSource();
        var listener = await bus.ListenAsync(null, "#tick", _ => received.TrySetResult(), cancellationToken: Ct);
        await sender.TriggerAsync("#tick", Payload.Json(1), cancellationToken: Ct);
        await received.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await listener.DisposeAsync();
        return new WeakReference(listener);
    }

    private static bool IsAlive(WeakReference reference)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return reference.IsAlive;
    }
}
