namespace Switchboard.Examples.Worker;

/// <summary>The "Thermometer" configuration section.</summary>
public sealed class ThermometerOptions
{
    /// <summary>The sender's name on the bus.</summary>
    public string Name { get; set; } = "thermometer";

    /// <summary>How often it sends a reading.</summary>
    public TimeSpan Period { get; set; } = TimeSpan.FromSeconds(1);
}
