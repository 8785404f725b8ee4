using System.Runtime.InteropServices;
using System.Text.Json;

namespace Switchboard.Server;

/// <summary>
/// Reads the fields of one parsed JSON line, with errors that name the verb and the field. Strings and payloads are
/// copied out, so nothing read here refers to the line's bytes once the line is done.
/// </summary>
internal readonly struct JsonLine
{
    private readonly JsonElement _root;
    private readonly string _prefix;

    public JsonLine(JsonElement root, string op, string prefix = "")
    {
        _root = root;
        Op = op;
        _prefix = prefix;
    }

    public string Op { get; }

    public bool Has(string name) => _root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Undefined;

    /// <summary>A string that must be there.</summary>
    public string RequiredString(string name) =>
        OptionalString(name) ?? throw Invalid(name, "is missing; it must be a string");

    /// <summary>A string, or null when the field is absent or JSON null.</summary>
    public string? OptionalString(string name)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw Invalid(name, $"must be a string, not {Describe(value)}");
    }

    /// <summary>A field that is a string (given in <paramref name="text"/>, null gives null) or an object (returned).</summary>
    public JsonElement? OptionalStringOrObject(string name, out string? text)
    {
        text = null;
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                text = value.GetString();
                return null;
            case JsonValueKind.Object:
                return value;
            default:
                throw Invalid(name, $"must be a string or an object, not {Describe(value)}");
        }
    }

    /// <summary>An array of strings; absent or null gives an empty array unless <paramref name="required"/>.</summary>
    public string[] Strings(string name, bool required = false)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return required ? throw Invalid(name, "is missing; it must be an array of strings") : [];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(name, $"must be an array of strings, not {Describe(value)}");
        }

        var items = new string[value.GetArrayLength()];
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            items[i] = item.ValueKind == JsonValueKind.String
                ? item.GetString()!
                : throw Invalid(name, $"must be an array of strings; item {i} is {Describe(item)}");
            i++;
        }

        return items;
    }

    /// <summary>A boolean; absent or null gives <paramref name="otherwise"/>.</summary>
    public bool Bool(string name, bool otherwise)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return otherwise;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(name, $"must be true or false, not {Describe(value)}"),
        };
    }

    /// <summary>A whole number of milliseconds, 1 or more; absent or null gives null.</summary>
    public TimeSpan? Milliseconds(string name)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var ms) || ms <= 0)
        {
            throw Invalid(name, $"must be a whole number of milliseconds from 1 to {int.MaxValue}, not {Describe(value)}");
        }

        return TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>Any JSON value, kept as its UTF-8 JSON text; absent gives the empty payload.</summary>
    public Payload Data(string name = "data") =>
        _root.TryGetProperty(name, out var value) ? Raw(value) : Payload.Empty;

    /// <summary>An object field, or null when absent or JSON null.</summary>
    public JsonElement? Object(string name)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Object ? value : throw Invalid(name, $"must be an object, not {Describe(value)}");
    }

    /// <summary>Copies a value's JSON text out of the line.</summary>
    public static Payload Raw(JsonElement value) => new(JsonMarshal.GetRawUtf8Value(value).ToArray());

    public JsonLineException Invalid(string name, string problem) =>
        new(JsonLineCodes.InvalidField, $"\"{_prefix}{name}\" {problem} (op \"{Op}\").");

    /// <summary>The fields of an object field, whose errors name it as <c>parent.field</c>.</summary>
    public JsonLine Nested(string name, JsonElement value) => new(value, Op, _prefix + name + ".");

    /// <summary>A key naming a listen: a string (its text) or a number (its JSON text).</summary>
    public string Key(string name)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw Invalid(name, "is missing; it must be the id (a string or a number) given to the listen");
        }

        return KeyOf(value) ?? throw Invalid(name, $"must be a string or a number, not {Describe(value)}");
    }

    /// <summary>The key of an id: a string's text or a number's JSON text; null for any other kind.</summary>
    public static string? KeyOf(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        _ => null,
    };

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
}
