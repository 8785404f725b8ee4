using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Switchboard.Cli;

/// <summary>How the command line reads DATA arguments and prints payloads.</summary>
public static class DataFormat
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Output for terminals and pipes, never for HTML: keep non-ASCII text readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>DATA as given when it is JSON (<c>42</c>, <c>{"a":1}</c>, <c>"text"</c>), otherwise as a JSON string
    /// (<c>hello</c> becomes <c>"hello"</c>); with <paramref name="raw"/>, its UTF-8 bytes as they are. No DATA: an empty payload.</summary>
    public static Payload FromArgument(string? data, bool raw)
    {
        if (data is null)
        {
            return Payload.Empty;
        }

        if (raw || Payload.IsJsonValue(Encoding.UTF8.GetBytes(data)))
        {
            return Payload.Utf8(data);
        }

        return Payload.Utf8(JsonLine(writer => writer.WriteStringValue(data)));
    }

    /// <summary>A payload as text on one line: UTF-8, with JSON compacted and other line breaks escaped (so one message stays one line).</summary>
    public static string OneLine(Payload data)
    {
        var text = data.ToString();
        if (text.AsSpan().IndexOfAny('\r', '\n') < 0)
        {
            return text;
        }

        if (Payload.IsJsonValue(data.Bytes.Span))
        {
            var buffer = new ArrayBufferWriter<byte>(data.Length);
            using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            {
                WriteValue(writer, data);
            }

            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }

        return text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    /// <summary>Writes a payload as a JSON value: itself when it is JSON, else its UTF-8 text as a string; empty is <c>null</c>.</summary>
    public static void WriteValue(Utf8JsonWriter writer, Payload data)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (data.IsEmpty)
        {
            writer.WriteNullValue();
            return;
        }

        if (TryParse(data) is { } document)
        {
            using (document)
            {
                document.RootElement.WriteTo(writer); // compact, whatever its spacing was
            }

            return;
        }

        writer.WriteStringValue(data.ToString());
    }

    private static JsonDocument? TryParse(Payload data)
    {
        if (!Payload.IsJsonValue(data.Bytes.Span))
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(data.Bytes);
        }
        catch (JsonException)
        {
            return null; // for example text that is not valid UTF-8
        }
    }

    /// <summary>Builds one JSON line.</summary>
    public static string JsonLine(Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes a list of strings as a JSON array property.</summary>
    public static void WriteArray(Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(values);
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }
}
