namespace Switchboard.Server;

/// <summary>A JSON line the gateway cannot act on (bad JSON, an unknown op, a missing or mistyped field).
/// It becomes an error line for the client; the connection and its registrations stay.</summary>
internal sealed class JsonLineException : SwitchboardException
{
    public JsonLineException(string code, string message)
        : base(code, message)
    {
    }
}
