using System.Buffers;
using System.Text.Json;

namespace Switchboard.Bridge;

/// <summary>
/// The one answer a bridge's producer gives for a gather it forwarded:
/// <c>{"bridge":"NAME","results":[{"producer":"p1","data":JSON}|{"producer":"p2","base64":"..."}],"missing":[...],"failed":{...}}</c>.
/// A result that is valid JSON is embedded as is; anything else (or an empty result) travels as base64.
/// </summary>
internal static class GatherPacking
{
    private const int MaxDepth = 16;

    public static Payload Pack(string bridge, IReadOnlyList<GatherResult> results, IEnumerable<string> missing, IEnumerable<KeyValuePair<string, string>> failed)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("bridge", bridge);
            json.WriteStartArray("results");
            foreach (var result in results)
            {
                json.WriteStartObject();
                json.WriteString("producer", result.Producer);
                if (Payload.IsJsonValue(result.Data.Bytes.Span))
                {
                    json.WritePropertyName("data");
                    json.WriteRawValue(result.Data.Bytes.Span, skipInputValidation: true);
                }
                else
                {
                    json.WriteBase64String("base64", result.Data.Bytes.Span);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("missing");
            foreach (var name in missing)
            {
                json.WriteStringValue(name);
            }

            json.WriteEndArray();
            json.WriteStartObject("failed");
            foreach (var (name, error) in failed)
            {
                json.WriteString(name, error);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return new Payload(buffer.WrittenMemory);
    }

    /// <summary>Adds the origin results packed in <paramref name="result"/> (nested packs too) to <paramref name="into"/>,
    /// or <paramref name="result"/> itself when it is not a bridge's pack.</summary>
    public static void Unpack(GatherResult result, List<GatherResult> into, int depth = 0)
    {
        if (depth >= MaxDepth || !TryRead(result.Data, out var inner))
        {
            into.Add(result);
            return;
        }

        foreach (var (producer, data) in inner)
        {
            Unpack(new GatherResult(producer, result.Topic, data), into, depth + 1);
        }
    }

    private static bool TryRead(Payload data, out List<(string Producer, Payload Data)> results)
    {
        results = [];
        var span = data.Bytes.Span.TrimStart(" \t\r\n"u8);
        if (span.IsEmpty || span[0] != (byte)'{')
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(data.Bytes);
            var root = document.RootElement;
            if (!root.TryGetProperty("bridge", out var bridge) || bridge.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("results", out var items) || items.ValueKind != JsonValueKind.Array)
            {
                return false;
            }

            foreach (var item in items.EnumerateArray())
            {
                var producer = item.GetProperty("producer").GetString() ?? string.Empty;
                var payload = item.TryGetProperty("data", out var json)
                    ? Payload.Utf8(json.GetRawText())
                    : new Payload(item.GetProperty("base64").GetBytesFromBase64());
                results.Add((producer, payload));
            }

            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return false;
        }
    }
}
