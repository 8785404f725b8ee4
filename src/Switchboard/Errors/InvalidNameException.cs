namespace Switchboard;

/// <summary>A name (sender, event, pattern, topic, request or group) broke the naming rules; the message says which rule and where.</summary>
public sealed class InvalidNameException : SwitchboardException
{
    /// <summary>Creates the error for <paramref name="name"/>, described by <paramref name="message"/>.</summary>
    public InvalidNameException(string? name, string message)
        : base(ErrorCodes.InvalidName, message)
    {
        Name = name;
    }

    /// <summary>The name that was refused (null when it was missing).</summary>
    public string? Name { get; }
}
