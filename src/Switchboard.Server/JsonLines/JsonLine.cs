using System.Text.Json;

namespace Switchboard.Server;

/// <summary>
/// Reads the fields of one parsed JSON line, with errors that name the verb and the field: the shared
/// <see cref="JsonFields{TProblems}"/> plus what only lines have (nested objects, listen keys, string-or-object fields).
/// Strings and payloads are copied out, so nothing read here refers to the line's bytes once the line is done.
/// </summary>
internal readonly struct JsonLine
{
    private readonly JsonElement _root;
    private readonly string _prefix;
    private readonly JsonFields<LineFieldProblems> _fields;

    public JsonLine(JsonElement root, string op, string prefix = "")
    {
        _root = root;
        Op = op;
        _prefix = prefix;
        _fields = new(root, new LineFieldProblems(op, prefix));
    }

    public string Op { get; }

    public bool Has(string name) => _fields.Has(name);

    /// <summary>A string that must be there.</summary>
    public string RequiredString(string name) => _fields.RequiredString(name);

    /// <summary>A string, or null when the field is absent or JSON null.</summary>
    public string? OptionalString(string name) => _fields.OptionalString(name);

    /// <summary>Message headers (see <see cref="JsonFields{TProblems}.Headers"/>).</summary>
    public MessageHeaders? Headers() => _fields.Headers();

    /// <summary>An array of strings; absent or null gives an empty array unless <paramref name="required"/>.</summary>
    public string[] Strings(string name, bool required = false) => _fields.Strings(name, required);

    /// <summary>A boolean; absent or null gives <paramref name="otherwise"/>.</summary>
    public bool Bool(string name, bool otherwise) => _fields.Bool(name, otherwise);

    /// <summary>The events of a trigger: <c>"event"</c> or a non-empty <c>"events"</c>, exactly one of them.</summary>
    public string[] EventOrEvents() => _fields.EventOrEvents();

    /// <summary>A whole number of milliseconds, 1 or more; absent or null gives null.</summary>
    public TimeSpan? Milliseconds(string name) => _fields.Milliseconds(name);

    /// <summary>Any JSON value, kept as its UTF-8 JSON text; absent gives the empty payload.</summary>
    public Payload Data(string name = "data") => _fields.Data(name);

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
    public static Payload Raw(JsonElement value) => JsonField.Raw(value);

    public JsonLineException Invalid(string name, string problem) => LineFieldProblems.Error(Op, _prefix, name, problem);

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

    public static string Describe(JsonElement value) => JsonField.Describe(value);

    /// <summary>Bad fields of a line: <c>invalid_field</c>, naming the field (with its parents) and the verb.</summary>
    private readonly struct LineFieldProblems(string op, string prefix) : IFieldProblems
    {
        public static JsonLineException Error(string op, string prefix, string name, string problem) =>
            new(ErrorCodes.InvalidField, $"\"{prefix}{name}\" {problem} (op \"{op}\").");

        public Exception Invalid(string name, string problem) => Error(op, prefix, name, problem);
    }
}
