namespace Switchboard.Examples.WebApp;

/// <summary>An order as POST /orders takes it.</summary>
/// <param name="Item">What is ordered.</param>
/// <param name="Quantity">How many.</param>
public sealed record Order(string Item, int Quantity);

/// <summary>The app's sender 'shop' on the injected <see cref="IBus"/>: registered once when the app starts (a sender
/// per request would announce itself on every call), removed when it stops.</summary>
public sealed class Shop(IBus bus) : IHostedService, IAsyncDisposable
{
    private ISender? _sender;

    /// <summary>Publishes <c>#order_placed</c> with the order as JSON.</summary>
    public ValueTask PlaceAsync(Order order, CancellationToken cancellationToken) =>
        (_sender ?? throw new InvalidOperationException("The shop opens when the app starts."))
            .TriggerAsync("#order_placed", Payload.Json(order), cancellationToken: cancellationToken);

    async Task IHostedService.StartAsync(CancellationToken cancellationToken) =>
        _sender = await bus.AddSenderAsync("shop", ["#order_placed"], cancellationToken: cancellationToken);

    async Task IHostedService.StopAsync(CancellationToken cancellationToken) => await DisposeAsync();

    /// <summary>Removes the sender from the bus.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _sender, null) is { } sender)
        {
            await sender.DisposeAsync();
        }
    }
}
