namespace Switchboard.Examples.Worker;

/// <summary>The listening half: logs the <c>#temperature</c> of every sender on the bus, read as a queue.</summary>
internal sealed class TemperatureLog(IBus bus, ILogger<TemperatureLog> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var readings = await bus.ListenAsync(sender: null, "#temperature", cancellationToken: stoppingToken);
        await foreach (var reading in readings.ReadAllAsync(stoppingToken))
        {
            log.LogInformation("received {Sender} {Event} {Celsius}", reading.Sender, reading.Event, reading.As<double>());
        }
    }
}
