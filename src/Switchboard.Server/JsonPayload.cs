using System.Text;
using System.Text.Json;
using System.Text.Unicode;

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
        else if (!IsJson(bytes))
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

    /// <summary>True when <paramref name="bytes"/> hold exactly one JSON value, in valid UTF-8.</summary>
    public static bool IsJson(ReadOnlySpan<byte> bytes)
    {
        if (!Utf8.IsValid(bytes))
        {
            return false;
        }

        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            while (reader.Read())
            {
            }

            return reader.BytesConsumed > 0 && reader.CurrentDepth == 0;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
