using System.Buffers;
using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Client;

/// <summary>A listener (or gather-result listener) registered through a <see cref="BusClient"/>: EVENT frames for its
/// subscription id are delivered into its local <see cref="Routing.Listener"/>, which keeps the queue, policy and callback.</summary>
internal sealed class ClientListener : ClientRegistration
{
    public ClientListener(uint id, Listener listener, string? resultsTopic, bool retained, string? pattern = null)
    {
        Id = id;
        Listener = listener;
        ResultsTopic = resultsTopic;
        Retained = retained;
        Pattern = pattern ?? listener.Event;
    }

    /// <summary>The pattern this subscription registers (one of several, for a listener of several patterns).</summary>
    public string? Pattern { get; }

    public uint Id { get; }

    public Listener Listener { get; }

    public string? ResultsTopic { get; }

    public bool Retained { get; }

    public override void WriteRegistration(IBufferWriter<byte> output, bool crc, uint correlation)
    {
        if (ResultsTopic is not null)
        {
            Frames.ListenResults(output, crc, correlation, Id, ResultsTopic);
        }
        else
        {
            Frames.Listen(output, crc, correlation, Id, Listener.Sender, Pattern, Listener.Group, Retained);
        }
    }
}
