using Microsoft.Extensions.Options;

namespace Switchboard.Examples.Worker;

/// <summary>The sending half: a sender that triggers <c>#temperature</c> with a reading every period.</summary>
internal sealed class Thermometer(IBus bus, IOptions<ThermometerOptions> options, ILogger<Thermometer> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Disposed when the host stops: the sender leaves the bus, and listeners hear '#disconnect'.
        await using var sender = await bus.AddSenderAsync(options.Value.Name, ["#temperature"], cancellationToken: stoppingToken);
        using var timer = new PeriodicTimer(options.Value.Period);
        var readings = 0;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var celsius = 20 + (readings++ % 5 * 0.5); // 20, 20.5, ... 22, then again
            await sender.TriggerAsync("#temperature", Payload.Json(celsius), cancellationToken: stoppingToken);
            log.LogInformation("sent {Sender} #temperature {Celsius}", sender.Name, celsius);
        }
    }
}
