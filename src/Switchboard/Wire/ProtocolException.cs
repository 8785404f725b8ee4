namespace Switchboard.Wire;

/// <summary>A peer broke the protocol (a bad length, an unknown frame, a truncated body, a CRC mismatch).</summary>
public sealed class ProtocolException : SwitchboardException
{
    /// <summary>Creates the error.</summary>
    public ProtocolException(string code, string message)
        : base(code, message)
    {
    }

    /// <summary>The frame was longer than allowed.</summary>
    public const string FrameTooLarge = "frame_too_large";

    /// <summary>The frame was malformed.</summary>
    public const string Malformed = "malformed_frame";

    /// <summary>The frame type is not known.</summary>
    public const string UnknownFrame = "unknown_frame";

    /// <summary>The CRC did not match.</summary>
    public const string BadChecksum = "bad_checksum";

    /// <summary>The peer speaks another protocol version.</summary>
    public const string UnsupportedVersion = "unsupported_version";

    /// <summary>The frame was not allowed at this point (for example anything before HELLO).</summary>
    public const string UnexpectedFrame = "unexpected_frame";
}
