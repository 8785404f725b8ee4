using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.JsonLines;

/// <summary>
/// A script on a raw TCP socket speaking JSON lines: sends lines (or raw bytes), and reads every line the broker
/// writes into a list that tests take matching lines from, in order, with a deadline (never a fixed sleep).
/// </summary>
internal sealed class JsonLinesPeer : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly List<JsonObject> _lines = [];
    private readonly List<string> _raw = [];
    private readonly List<JsonObject> _all = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reading;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _closed;
    private int _pings;

    private JsonLinesPeer(Socket socket)
    {
        _socket = socket;
        _reading = ReadAsync();
    }

    /// <summary>The last lines received, as text, long ones cut (for failure messages).</summary>
    public string Received
    {
        get
        {
            lock (_lines)
            {
                return string.Join("\n", _raw.TakeLast(40).Select(l => l.Length > 300 ? l[..300] + $"... ({l.Length} chars)" : l));
            }
        }
    }

    public static async Task<JsonLinesPeer> ConnectAsync(BrokerHost host, CancellationToken cancellationToken = default)
    {
        var uri = new Uri(host.JsonLinesAddress ?? throw new InvalidOperationException("The broker has no JSON-lines endpoint."));
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(uri.Host), uri.Port), cancellationToken);
        return new JsonLinesPeer(socket);
    }

    public static Task<BrokerHost> StartBrokerAsync(BrokerOptions? options = null, CancellationToken cancellationToken = default) =>
        BrokerHost.StartAsync((options ?? new BrokerOptions()) with { Port = 0, JsonLinesPort = 0 }, cancellationToken: cancellationToken);

    /// <summary>Sends one line (a newline is added).</summary>
    public Task SendAsync(string line) => SendRawAsync(Encoding.UTF8.GetBytes(line + "\n"));

    /// <summary>Sends an object as one line.</summary>
    public Task SendAsync(object line) => SendAsync(JsonSerializer.Serialize(line));

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await _socket.SendAsync(bytes, SocketFlags.None);
            bytes = bytes[sent..];
        }
    }

    /// <summary>Takes the first line not taken yet that <paramref name="match"/> accepts, waiting for it.</summary>
    public async Task<JsonObject> TakeAsync(Func<JsonObject, bool> match, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Wait.Timeout);
        while (true)
        {
            Task changed;
            lock (_lines)
            {
                for (var i = 0; i < _lines.Count; i++)
                {
                    if (match(_lines[i]))
                    {
                        var line = _lines[i];
                        _lines.RemoveAt(i);
                        return line;
                    }
                }

                if (_closed)
                {
                    Assert.Fail($"The broker closed the connection before {what}. Received:\n{Received}");
                }

                changed = _changed.Task;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || await Task.WhenAny(changed, Task.Delay(left)) != changed)
            {
                Assert.Fail($"Timed out waiting for {what}. Received:\n{Received}");
            }
        }
    }

    /// <summary>The answer (ok, error, reply, pong...) carrying <paramref name="id"/>.</summary>
    public Task<JsonObject> AnswerAsync(object id, TimeSpan? timeout = null) =>
        TakeAsync(l => l["op"]?.GetValue<string>() is not ("result" or "late") && IdIs(l, id), $"the answer to id {id}", timeout);

    /// <summary>Sends a line and returns its answer (the line carrying <paramref name="id"/>).</summary>
    public async Task<JsonObject> AskAsync(string line, object id)
    {
        await SendAsync(line);
        return await AnswerAsync(id);
    }

    /// <summary>Sends a line with <paramref name="id"/> and expects <c>{"ok":true,"id":...}</c>.</summary>
    public async Task<JsonObject> OkAsync(string line, object id)
    {
        await SendAsync(line);
        var answer = await AnswerAsync(id);
        Assert.True(answer["ok"]?.GetValue<bool>() == true, $"Expected ok for id {id}, got {answer.ToJsonString()}");
        return answer;
    }

    /// <summary>Sends a line and expects an error with <paramref name="code"/> carrying <paramref name="id"/> (or no id).</summary>
    public async Task<JsonObject> ErrorAsync(string line, string code, object? id = null)
    {
        await SendAsync(line);
        return await ExpectErrorAsync(code, id);
    }

    public async Task<JsonObject> ExpectErrorAsync(string code, object? id = null)
    {
        var error = await TakeAsync(l => l["error"] is not null && (id is null ? l["id"] is null : IdIs(l, id)), $"an error ({code}) for id {id?.ToString() ?? "(none)"}");
        Assert.True(code == error["error"]!["code"]!.GetValue<string>(), $"Expected code {code}, got {error.ToJsonString()}");
        Assert.False(string.IsNullOrWhiteSpace(error["error"]!["message"]!.GetValue<string>()));
        return error;
    }

    public Task<JsonObject> EventAsync(object listen, int seq) =>
        TakeAsync(l => l["op"]?.GetValue<string>() == "event" && IdIs(l, listen, "listen") && l["seq"]!.GetValue<long>() == seq, $"event seq {seq} of listen {listen}");

    /// <summary>Proves everything the broker sent before now has been read: a ping round trip.</summary>
    public async Task SyncAsync()
    {
        var id = $"sync{Interlocked.Increment(ref _pings)}";
        await SendAsync($$"""{"op":"ping","id":"{{id}}"}""");
        var pong = await AnswerAsync(id);
        Assert.Equal("pong", pong["op"]!.GetValue<string>());
    }

    /// <summary>Every line received so far, taken or not, in arrival order.</summary>
    public List<JsonObject> All
    {
        get
        {
            lock (_lines)
            {
                return [.. _all];
            }
        }
    }

    /// <summary>Lines received and not taken, that <paramref name="match"/> accepts.</summary>
    public List<JsonObject> Pending(Func<JsonObject, bool> match)
    {
        lock (_lines)
        {
            return [.. _lines.Where(match)];
        }
    }

    public static bool IdIs(JsonObject line, object id, string name = "id") =>
        line[name] is JsonValue value && value.ToJsonString() == JsonSerializer.Serialize(id);

    /// <summary>Stops sending (half-close): the broker sees the end of input.</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    public async Task<bool> ClosedByBrokerAsync()
    {
        var done = await Task.WhenAny(_reading, Task.Delay(Wait.Timeout));
        return done == _reading;
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[64 * 1024];
        var pending = new List<byte>();
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    break;
                }

                var start = 0;
                for (var i = 0; i < read; i++)
                {
                    if (buffer[i] == (byte)'\n')
                    {
                        pending.AddRange(buffer.AsSpan(start, i - start));
                        Add(Encoding.UTF8.GetString([.. pending]));
                        pending.Clear();
                        start = i + 1;
                    }
                }

                pending.AddRange(buffer.AsSpan(start, read - start));
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            lock (_lines)
            {
                _closed = true;
                _changed.TrySetResult();
            }
        }
    }

    private void Add(string text)
    {
        var line = JsonNode.Parse(text) as JsonObject ?? throw new InvalidOperationException($"The broker wrote a line that is not a JSON object: {text}");
        lock (_lines)
        {
            _raw.Add(text);
            _all.Add(line);
            _lines.Add(line);
            var changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            changed.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        await _reading;
        _stop.Dispose();
    }
}
