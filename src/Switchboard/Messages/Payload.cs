using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Switchboard;

/// <summary>
/// The data a message carries: raw bytes, always. <see cref="Json{T}(T, JsonSerializerOptions?)"/> and
/// <see cref="As{T}(JsonSerializerOptions?)"/> turn typed values into bytes and back with System.Text.Json
/// (pass a <see cref="JsonTypeInfo{T}"/> from a source-generated context to avoid reflection).
/// </summary>
/// <remarks>A payload is a view over memory the bus never mutates; do not mutate the memory after triggering it.</remarks>
public readonly struct Payload : IEquatable<Payload>
{
    /// <summary>Wraps raw bytes without copying.</summary>
    public Payload(ReadOnlyMemory<byte> bytes) => Bytes = bytes;

    /// <summary>The empty payload (what a trigger without data carries).</summary>
    public static Payload Empty => default;

    /// <summary>The serializer settings used when none are given: System.Text.Json's web defaults (camelCase).</summary>
    public static JsonSerializerOptions DefaultJsonOptions { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>The bytes.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The number of bytes.</summary>
    public int Length => Bytes.Length;

    /// <summary>True when there are no bytes.</summary>
    public bool IsEmpty => Bytes.IsEmpty;

    /// <summary>This payload in memory of its own (a lent payload copied before it is kept).</summary>
    internal Payload Detach() => IsEmpty ? default : new Payload(Bytes.ToArray());

    /// <summary>Wraps raw bytes without copying.</summary>
    public static Payload From(ReadOnlyMemory<byte> bytes) => new(bytes);

    /// <summary>UTF-8 bytes of a string.</summary>
    public static Payload Utf8(string text) => new(Encoding.UTF8.GetBytes(text));

    /// <summary>Serializes <paramref name="value"/> as JSON.</summary>
    [RequiresUnreferencedCode("Reflection-based JSON; pass a JsonTypeInfo from a source-generated context to be trim-safe.")]
    [RequiresDynamicCode("Reflection-based JSON; pass a JsonTypeInfo from a source-generated context to be AOT-safe.")]
    public static Payload Json<T>(T value, JsonSerializerOptions? options = null) =>
        new(JsonSerializer.SerializeToUtf8Bytes(value, options ?? DefaultJsonOptions));

    /// <summary>Serializes <paramref name="value"/> as JSON with source-generated metadata.</summary>
    public static Payload Json<T>(T value, JsonTypeInfo<T> typeInfo) =>
        new(JsonSerializer.SerializeToUtf8Bytes(value, typeInfo));

    /// <summary>Reads the payload as JSON of type <typeparamref name="T"/>; an empty payload reads as <c>default</c>.</summary>
    [RequiresUnreferencedCode("Reflection-based JSON; pass a JsonTypeInfo from a source-generated context to be trim-safe.")]
    [RequiresDynamicCode("Reflection-based JSON; pass a JsonTypeInfo from a source-generated context to be AOT-safe.")]
    public T? As<T>(JsonSerializerOptions? options = null) =>
        Bytes.IsEmpty ? default : JsonSerializer.Deserialize<T>(Bytes.Span, options ?? DefaultJsonOptions);

    /// <summary>Reads the payload as JSON with source-generated metadata.</summary>
    public T? As<T>(JsonTypeInfo<T> typeInfo) =>
        Bytes.IsEmpty ? default : JsonSerializer.Deserialize(Bytes.Span, typeInfo);

    /// <summary>The bytes decoded as UTF-8.</summary>
    public override string ToString() => Encoding.UTF8.GetString(Bytes.Span);

    /// <summary>True when the data is exactly one JSON value in valid UTF-8 (how the gateways, the CLI and the bridge
    /// decide to carry data as JSON rather than as a string).</summary>
    public bool IsJson => IsJsonValue(Bytes.Span);

    /// <summary>True when <paramref name="bytes"/> hold exactly one JSON value, in valid UTF-8.</summary>
    /// <param name="bytes">The bytes.</param>
    public static bool IsJsonValue(ReadOnlySpan<byte> bytes)
    {
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
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

    /// <summary>Byte-wise equality.</summary>
    public bool Equals(Payload other) => Bytes.Span.SequenceEqual(other.Bytes.Span);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Payload other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Bytes.Span);
        return hash.ToHashCode();
    }

    /// <summary>Byte-wise equality.</summary>
    public static bool operator ==(Payload left, Payload right) => left.Equals(right);

    /// <summary>Byte-wise inequality.</summary>
    public static bool operator !=(Payload left, Payload right) => !left.Equals(right);

    /// <summary>Wraps a byte array without copying.</summary>
    public static implicit operator Payload(byte[] bytes) => new(bytes);

    /// <summary>Wraps bytes without copying.</summary>
    public static implicit operator Payload(ReadOnlyMemory<byte> bytes) => new(bytes);
}
