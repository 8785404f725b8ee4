using System.Text;
using System.Text.Json;

namespace Switchboard.Server;

/// <summary>How the text gateways (JSON lines, HTTP and SSE) show a payload: one piece of code, so they cannot differ.</summary>
internal static class JsonPayload
{
    /// <summary>Writes a payload: empty as <c>null</c>, JSON as itself (compact, on one line), anything else as a JSON string.</summary>
    public static void Write(Utf8JsonWriter json, Payload data)
    {
        var bytes = data.Bytes.Span;
        if (bytes.IsEmpty)
        {
            json.WriteNullValue();
        }
        else if (!Payload.IsJsonValue(bytes))
        {
            json.WriteStringValue(Encoding.UTF8.GetString(bytes));
        }
        else if (bytes.IndexOfAny((byte)'\n', (byte)'\r') < 0)
        {
            json.WriteRawValue(bytes, skipInputValidation: true);
        }
        else
        {
            // Valid JSON over several lines (indented): rewrite it compact, so an SSE data line stays one line.
            using var document = JsonDocument.Parse(data.Bytes);
            document.RootElement.WriteTo(json);
        }
    }
}
