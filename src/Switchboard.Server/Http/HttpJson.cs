using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;

namespace Switchboard.Server.Http;

/// <summary>A request the gateway refuses: an HTTP status, a stable code and a message for people.</summary>
internal sealed class HttpGatewayException(int status, string code, string message) : SwitchboardException(code, message)
{
    public int Status { get; } = status;
}

/// <summary>Reading request bodies (bounded) and writing JSON answers, errors included.</summary>
internal static class HttpJson
{
    /// <summary>Quotes and apostrophes in messages stay readable (<c>'s1'</c>, not <c>\u0027s1\u0027</c>); the answers are
    /// <c>application/json</c> or SSE data, never HTML.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Reads the body as one JSON object, refusing more than <paramref name="maxBytes"/> bytes before holding them.</summary>
    public static async Task<JsonDocument> ReadObjectAsync(HttpContext context, int maxBytes, string example)
    {
        var request = context.Request;
        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(request.ContentLength.Value, maxBytes);
        }

        var buffer = new ArrayBufferWriter<byte>(Math.Min(maxBytes + 1, 4096));
        while (true)
        {
            var memory = buffer.GetMemory(Math.Min(4096, maxBytes + 1 - buffer.WrittenCount));
            var read = await request.Body.ReadAsync(memory, context.RequestAborted);
            if (read == 0)
            {
                break;
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes)
            {
                throw TooLarge(null, maxBytes);
            }
        }

        var bytes = buffer.WrittenMemory;
        if (bytes.Span.Trim(" \t\r\n"u8).IsEmpty)
        {
            throw new HttpGatewayException(StatusCodes.Status400BadRequest, ErrorCodes.InvalidJson, $"The body is empty; send one JSON object, such as {example}.");
        }

        if (!Utf8.IsValid(bytes.Span))
        {
            throw new HttpGatewayException(StatusCodes.Status400BadRequest, ErrorCodes.InvalidJson, "The body is not valid UTF-8; send one UTF-8 JSON object.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, JsonField.ParseOptions);
        }
        catch (JsonException ex)
        {
            throw new HttpGatewayException(StatusCodes.Status400BadRequest, ErrorCodes.InvalidJson, $"The body is not valid JSON: {ex.Message} Send one JSON object, such as {example}.");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = JsonField.Describe(document.RootElement);
            document.Dispose();
            throw new HttpGatewayException(StatusCodes.Status400BadRequest, ErrorCodes.InvalidJson, $"The body is {kind}; it must be a JSON object, such as {example}.");
        }

        return document;

        static HttpGatewayException TooLarge(long? length, int max) => new(
            StatusCodes.Status413PayloadTooLarge,
            ErrorCodes.BodyTooLarge,
            $"The body is {(length is { } l ? $"{l} bytes" : "larger than the limit")}; at most {max} bytes are accepted (HttpGatewayOptions.MaxBodyBytes).");
    }

    /// <summary>Answers with a JSON body written by <paramref name="write"/>.</summary>
    public static async Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(json);
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>Answers with <c>{"error":{"code":...,"message":...}}</c>.</summary>
    public static Task WriteErrorAsync(HttpContext context, int status, string code, string message) =>
        WriteAsync(context, status, json =>
        {
            json.WriteStartObject();
            json.WriteStartObject("error");
            json.WriteString("code", code);
            json.WriteString("message", message);
            json.WriteEndObject();
            json.WriteEndObject();
        });

    /// <summary>The HTTP status of a bus error code.</summary>
    public static int StatusOf(string code) => code switch
    {
        ErrorCodes.NoSender or ErrorCodes.NoHandler or ErrorCodes.UnknownSender => StatusCodes.Status404NotFound,
        ErrorCodes.HandlerError => StatusCodes.Status502BadGateway,
        ErrorCodes.Timeout => StatusCodes.Status504GatewayTimeout,
        ErrorCodes.SenderExists or ErrorCodes.ProducerExists => StatusCodes.Status409Conflict,
        ErrorCodes.Closed or ErrorCodes.GoingAway => StatusCodes.Status503ServiceUnavailable,
        ErrorCodes.TooMany => StatusCodes.Status429TooManyRequests,
        ErrorCodes.MessageTooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorCodes.Forbidden => StatusCodes.Status403Forbidden,
        ErrorCodes.Unauthorized or ErrorCodes.TokenExpired => StatusCodes.Status401Unauthorized,
        _ => StatusCodes.Status400BadRequest,
    };

    public static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}

/// <summary>Bad fields of a request body: 400 <c>invalid_field</c>, naming the field and the endpoint.</summary>
internal readonly struct HttpFieldProblems(string endpoint) : IFieldProblems
{
    public Exception Invalid(string name, string problem) =>
        new HttpGatewayException(StatusCodes.Status400BadRequest, ErrorCodes.InvalidField, $"\"{name}\" {problem} ({endpoint}).");
}
