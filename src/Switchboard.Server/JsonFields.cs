using System.Runtime.InteropServices;
using System.Text.Json;

namespace Switchboard.Server;

/// <summary>How a reader of JSON fields reports a bad field: the HTTP gateway answers 400 naming the endpoint, the
/// JSON-lines gateway an error line naming the verb.</summary>
internal interface IFieldProblems
{
    Exception Invalid(string name, string problem);
}

/// <summary>
/// The typed fields of one JSON object (an HTTP gateway body, a JSON-lines line), one reader for both gateways so a
/// field means and is checked the same wherever it comes from. Strings and payloads are copied out: nothing read here
/// refers to the document once it is disposed.
/// </summary>
internal readonly struct JsonFields<TProblems>(JsonElement root, TProblems problems)
    where TProblems : struct, IFieldProblems
{
    public JsonElement Root => root;

    public bool Has(string name) => root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Undefined;

    /// <summary>A string that must be there.</summary>
    public string RequiredString(string name) => OptionalString(name) ?? throw Invalid(name, "is missing; it must be a string");

    /// <summary>A string, or null when the field is absent or JSON null.</summary>
    public string? OptionalString(string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Invalid(name, $"must be a string, not {JsonField.Describe(value)}");
    }

    /// <summary>The most headers one message may carry from a JSON surface.</summary>
    public const int MaxHeaders = 64;

    /// <summary>Message headers: an object of string values (<c>{"traceparent":"00-...","tenant":"a"}</c>), or null when
    /// absent or JSON null; at most <see cref="MaxHeaders"/>, names non-empty.</summary>
    public MessageHeaders? Headers(string name = "headers")
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(name, $"must be an object of string values, not {JsonField.Describe(value)}");
        }

        var items = new List<KeyValuePair<string, string>>();
        foreach (var header in value.EnumerateObject())
        {
            if (header.Name.Length == 0 || header.Value.ValueKind != JsonValueKind.String)
            {
                throw Invalid(name, $"must be an object of string values with non-empty names; '{header.Name}' is {JsonField.Describe(header.Value)}");
            }

            items.Add(new(header.Name, header.Value.GetString()!));
        }

        return items.Count > MaxHeaders
            ? throw Invalid(name, $"has {items.Count} headers; a message may carry at most {MaxHeaders}")
            : items.Count == 0 ? null : new MessageHeaders(items);
    }

    /// <summary>An array of strings; absent or null gives an empty array unless <paramref name="required"/>.</summary>
    public string[] Strings(string name, bool required = false)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return required ? throw Invalid(name, "is missing; it must be an array of strings") : [];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(name, $"must be an array of strings, not {JsonField.Describe(value)}");
        }

        var items = new string[value.GetArrayLength()];
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            items[i] = item.ValueKind == JsonValueKind.String
                ? item.GetString()!
                : throw Invalid(name, $"must be an array of strings; item {i} is {JsonField.Describe(item)}");
            i++;
        }

        return items;
    }

    /// <summary>The events of a trigger: <c>"event"</c> (one name) or <c>"events"</c> (a non-empty array), exactly one of them.</summary>
    public string[] EventOrEvents()
    {
        var single = OptionalString("event");
        var several = Has("events") ? Strings("events") : null;
        if ((single is null) == (several is null))
        {
            throw Invalid("event", "and \"events\": give exactly one of them (\"event\": a name, or \"events\": an array of names)");
        }

        return several switch
        {
            null => [single!],
            { Length: 0 } => throw Invalid("events", "is empty; name at least one event"),
            _ => several,
        };
    }

    /// <summary>A boolean; absent or null gives <paramref name="otherwise"/>.</summary>
    public bool Bool(string name, bool otherwise)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return otherwise;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(name, $"must be true or false, not {JsonField.Describe(value)}"),
        };
    }

    /// <summary>A whole number of milliseconds from 1 to <paramref name="limit"/>; absent or null gives null.</summary>
    public TimeSpan? Milliseconds(string name, long limit = int.MaxValue)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var ms) || ms <= 0 || ms > limit)
        {
            throw Invalid(name, $"must be a whole number of milliseconds from 1 to {limit}, not {JsonField.Describe(value)}");
        }

        return TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>Any JSON value, kept as its UTF-8 JSON text (copied); absent gives the empty payload.</summary>
    public Payload Data(string name = "data") =>
        root.TryGetProperty(name, out var value) ? JsonField.Raw(value) : Payload.Empty;

    public Exception Invalid(string name, string problem) => problems.Invalid(name, problem);
}

/// <summary>What both gateways say about JSON values.</summary>
internal static class JsonField
{
    /// <summary>How the gateways parse a body or a line: bounded nesting, and a key given twice is an error (the last
    /// would silently win, and two readers of one message could see two different ones).</summary>
    public static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    /// <summary>A value's kind in words, for error messages ("an array", "the number 5").</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>Copies a value's JSON text out of its document.</summary>
    public static Payload Raw(JsonElement value) => new(JsonMarshal.GetRawUtf8Value(value).ToArray());
}
