namespace Switchboard.Wire;

/// <summary>Constants of the binary protocol.</summary>
public static class Protocol
{
    /// <summary>The protocol version this build speaks.</summary>
    public const ushort Version = 1;

    /// <summary>Bytes before a frame's body: a 4-byte little-endian length, then type and flags.</summary>
    public const int HeaderSize = 6;

    /// <summary>The smallest value of the length field (type and flags).</summary>
    public const int MinLength = 2;

    /// <summary>The default largest frame (length field value) accepted: 1 MiB.</summary>
    public const int DefaultMaxFrameSize = 1 << 20;

    /// <summary>Flag bit: a CRC-32C of type, flags and body follows the body.</summary>
    public const byte FlagCrc = 0x01;

    /// <summary>Trigger flag bit: keep the message as the event's retained value.</summary>
    public const byte TriggerRetain = 0x01;

    /// <summary>Feature bit: the peer can check and send per-frame CRC-32C.</summary>
    public const uint FeatureCrc = 0x01;

    /// <summary>Feature bit (HELLO): the client takes SENDER_LIST in pages, each ending with a u8 "more" flag.</summary>
    public const uint FeaturePagedLists = 0x02;

    /// <summary>The smallest largest-frame a client may announce in HELLO: 64 KiB.</summary>
    public const int MinPeerMaxFrameSize = 64 * 1024;

    /// <summary>The reply status byte for success.</summary>
    public const byte ReplyOk = 0;

    /// <summary>The reply status byte for failure (a code and a message follow).</summary>
    public const byte ReplyError = 1;
}
