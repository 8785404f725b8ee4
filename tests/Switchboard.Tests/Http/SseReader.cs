using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Http;

/// <summary>One thing read from an SSE stream: a comment (<see cref="Comment"/>), a <c>retry:</c>, or a dispatched event.</summary>
internal sealed record SseItem(string? Comment, long? Retry, string? Id, string? Event, string? Data)
{
    public bool IsEvent => Comment is null && Retry is null;

    public JsonNode Json => JsonNode.Parse(Data!)!;

    public long Seq => long.Parse(Id!, System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// A browser-like EventSource client over HttpClient: one GET (with <c>Last-Event-ID</c> when resuming), read as it
/// arrives and parsed by the SSE rules (fields, comments, blank line dispatches), exposed as a queue with deadlines.
/// </summary>
internal sealed class SseReader : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<SseItem> _items = Channel.CreateUnbounded<SseItem>();
    private readonly Task _reading;

    private SseReader(HttpResponseMessage response)
    {
        _response = response;
        _reading = ReadAsync();
    }

    public HttpResponseMessage Response => _response;

    /// <summary>The id of the last event received (what a browser sends as <c>Last-Event-ID</c> on reconnect).</summary>
    public string? LastEventId { get; private set; }

    public static async Task<SseReader> OpenAsync(HttpClient http, string path, string? lastEventId = null, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Wait.Timeout);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return new SseReader(response);
    }

    /// <summary>The next item of any kind.</summary>
    public async Task<SseItem> NextAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? Wait.Timeout);
        try
        {
            return await _items.Reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Assert.Fail($"No SSE item arrived within {(timeout ?? Wait.Timeout).TotalSeconds} s.");
            throw;
        }
        catch (ChannelClosedException)
        {
            Assert.Fail("The SSE stream ended.");
            throw;
        }
    }

    /// <summary>The next dispatched event, skipping comments and <c>retry:</c>.</summary>
    public async Task<SseItem> NextEventAsync(TimeSpan? timeout = null)
    {
        while (true)
        {
            var item = await NextAsync(timeout);
            if (item.IsEvent)
            {
                return item;
            }
        }
    }

    /// <summary>Proves nothing else arrived: asks for the marker the test triggered after the fact and expects it next.</summary>
    public async Task<SseItem> NextEventIsAsync(string eventName)
    {
        var next = await NextEventAsync();
        Assert.True(next.Event == eventName, $"Expected the event '{eventName}' next, got '{next.Event}': {next.Data}");
        return next;
    }

    private async Task ReadAsync()
    {
        try
        {
            await using var body = await _response.Content.ReadAsStreamAsync(_stop.Token);
            using var reader = new StreamReader(body, Encoding.UTF8);
            string? id = null, name = null;
            StringBuilder? data = null;
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (data is not null)
                    {
                        if (id is not null)
                        {
                            LastEventId = id;
                        }

                        await _items.Writer.WriteAsync(new SseItem(null, null, id, name ?? "message", data.ToString()));
                    }

                    id = null;
                    name = null;
                    data = null;
                    continue;
                }

                if (line[0] == ':')
                {
                    await _items.Writer.WriteAsync(new SseItem(line[1..].TrimStart(), null, null, null, null));
                    continue;
                }

                var colon = line.IndexOf(':', StringComparison.Ordinal);
                var field = colon < 0 ? line : line[..colon];
                var value = colon < 0 ? string.Empty : line[(colon + 1)..];
                if (value.StartsWith(' '))
                {
                    value = value[1..];
                }

                switch (field)
                {
                    case "id":
                        id = value;
                        break;
                    case "event":
                        name = value;
                        break;
                    case "data":
                        data = data is null ? new StringBuilder(value) : data.Append('\n').Append(value);
                        break;
                    case "retry":
                        await _items.Writer.WriteAsync(new SseItem(null, long.Parse(value, System.Globalization.CultureInfo.InvariantCulture), null, null, null));
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException or ObjectDisposedException)
        {
        }
        finally
        {
            _items.Writer.TryComplete();
        }
    }

    /// <summary>Closes the connection, as a browser tab that goes away.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _response.Dispose();
        await _reading;
        _stop.Dispose();
    }
}
