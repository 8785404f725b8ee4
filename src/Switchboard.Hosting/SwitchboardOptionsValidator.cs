using Microsoft.Extensions.Options;

namespace Switchboard.Hosting;

/// <summary>
/// Checks <see cref="SwitchboardOptions"/> when they are first read (at the host's start: the bus is made then). Each
/// failure names the configuration key and the value it had, so a typo in <c>appsettings.json</c> is found from the
/// message alone.
/// </summary>
/// <param name="section">The configuration section the options come from, named in messages.</param>
public sealed class SwitchboardOptionsValidator(string section) : IValidateOptions<SwitchboardOptions>
{
    /// <summary>The smallest <see cref="SwitchboardOptions.MaxFrameSize"/> accepted: what the protocol lets a client
    /// announce in HELLO (64 KiB; <see cref="BusClient"/> refuses less).</summary>
    public const int MinFrameSize = Wire.Protocol.MinPeerMaxFrameSize;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SwitchboardOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        foreach (var address in options.BrokerAddresses)
        {
            try
            {
                _ = BusAddress.Parse(address);
            }
            catch (SwitchboardException ex)
            {
                failures.Add($"{Key("Broker")}: {ex.Message}");
            }
        }

        if (options.ClientName is { } client && client.Trim().Length == 0)
        {
            failures.Add($"{Key("ClientName")} is blank; give a name, or leave it out to use the application's name.");
        }

        Positive(failures, "ConnectTimeout", options.ConnectTimeout);
        Positive(failures, "HeartbeatInterval", options.HeartbeatInterval);
        Positive(failures, "ReconnectDelay", options.ReconnectDelay);
        Positive(failures, "DefaultRequestTimeout", options.DefaultRequestTimeout);
        if (options.MaxReconnectDelay < options.ReconnectDelay)
        {
            failures.Add($"{Key("MaxReconnectDelay")} ({options.MaxReconnectDelay}) is shorter than {Key("ReconnectDelay")} ({options.ReconnectDelay}).");
        }

        if (options.DrainTimeout < TimeSpan.Zero)
        {
            failures.Add($"{Key("DrainTimeout")} must not be negative; it is {options.DrainTimeout}.");
        }

        if (options.HeartbeatMisses < 1)
        {
            failures.Add($"{Key("HeartbeatMisses")} must be at least 1; it is {options.HeartbeatMisses}.");
        }

        if (options.OfflineBufferBytes < 0)
        {
            failures.Add($"{Key("OfflineBufferBytes")} must not be negative; it is {options.OfflineBufferBytes}.");
        }

        if (options.MaxFrameSize < MinFrameSize)
        {
            failures.Add($"{Key("MaxFrameSize")} must be at least {MinFrameSize} bytes; it is {options.MaxFrameSize}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private string Key(string property) => $"{section}:{property}";

    private void Positive(List<string> failures, string property, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{Key(property)} must be more than zero; it is {value}.");
        }
    }
}
