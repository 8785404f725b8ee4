using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Http;

/// <summary>A real broker with its HTTP port on 127.0.0.1 (port 0), an HttpClient on it, and a recorder of the errors it
/// logged (a test fails if the broker logged one it did not expect).</summary>
internal sealed class HttpGatewayHarness : IAsyncDisposable
{
    private readonly RecordingLoggerProvider _log;

    private HttpGatewayHarness(BrokerHost host, RecordingLoggerProvider log)
    {
        Host = host;
        _log = log;
        Http = new HttpClient { BaseAddress = new Uri(host.HttpAddress!), Timeout = TimeSpan.FromSeconds(30) };
    }

    public BrokerHost Host { get; }

    public HttpClient Http { get; }

    public IReadOnlyCollection<string> LoggedErrors => _log.Errors;

    public static async Task<HttpGatewayHarness> StartAsync(BrokerOptions? options = null, HttpGatewayOptions? http = null, CancellationToken cancellationToken = default)
    {
        var log = new RecordingLoggerProvider();
        options = (options ?? new BrokerOptions()) with { Port = 0, HttpPort = 0 };
        if (http is not null)
        {
            options = options with { Http = http };
        }

        var host = await BrokerHost.StartAsync(options, logging => logging.AddProvider(log).SetMinimumLevel(LogLevel.Warning), cancellationToken: cancellationToken);
        return new HttpGatewayHarness(host, log);
    }

    public Task<BusClient> ConnectClientAsync(CancellationToken cancellationToken = default) =>
        BusClient.ConnectAsync(Host.TcpAddress!, cancellationToken: cancellationToken);

    public Task<SseReader> OpenEventsAsync(string query, string? lastEventId = null, CancellationToken cancellationToken = default) =>
        SseReader.OpenAsync(Http, "/events" + query, lastEventId, cancellationToken);

    /// <summary>POSTs a JSON body (given as text, sent as it is).</summary>
    public async Task<(int Status, JsonNode? Body)> PostAsync(string path, string body, CancellationToken cancellationToken = default)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(path, content, cancellationToken);
        return ((int)response.StatusCode, await ReadJsonAsync(response, cancellationToken));
    }

    public async Task<(int Status, JsonNode? Body)> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        using var response = await Http.SendAsync(request, cancellationToken);
        return ((int)response.StatusCode, await ReadJsonAsync(response, cancellationToken));
    }

    public async Task<(int Status, JsonNode? Body)> GetJsonAsync(string path, CancellationToken cancellationToken = default)
    {
        using var response = await Http.GetAsync(path, cancellationToken);
        return ((int)response.StatusCode, await ReadJsonAsync(response, cancellationToken));
    }

    /// <summary>POSTs and expects 2xx.</summary>
    public async Task<JsonNode?> OkAsync(string path, string body, CancellationToken cancellationToken = default)
    {
        var (status, json) = await PostAsync(path, body, cancellationToken);
        Assert.True(status is >= 200 and < 300, $"POST {path} {body} answered {status}: {json?.ToJsonString()}");
        return json;
    }

    /// <summary>Asserts an error answer: the status and <c>{"error":{"code":...,"message":...}}</c>.</summary>
    public static string AssertError((int Status, JsonNode? Body) answer, int status, string code)
    {
        Assert.True(answer.Status == status, $"Expected {status} {code}, got {answer.Status}: {answer.Body?.ToJsonString()}");
        var error = answer.Body?["error"];
        Assert.NotNull(error);
        Assert.Equal(code, error["code"]!.GetValue<string>());
        var message = error["message"]!.GetValue<string>();
        Assert.False(string.IsNullOrWhiteSpace(message));
        return message;
    }

    public async Task<string> MetricsAsync(CancellationToken cancellationToken = default)
    {
        using var response = await Http.GetAsync("/metrics", cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"GET /metrics answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}\nBroker errors:\n{string.Join("\n", LoggedErrors)}");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync(cancellationToken);
    }

    /// <summary>The value of one sample line (<c>name{labels} value</c>) of a Prometheus text.</summary>
    public static double Metric(string text, string sample)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(sample + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(sample.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        Assert.Fail($"No metric line '{sample} ...' in:\n{text}");
        return 0;
    }

    /// <summary>Polls <c>/metrics</c> until the sample satisfies <paramref name="condition"/> (with the usual deadline).</summary>
    public async Task UntilMetricAsync(string sample, Func<double, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait.Timeout;
        while (true)
        {
            var value = Metric(await MetricsAsync(), sample);
            if (condition(value))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what} ({sample} is {value}).");
            }

            await Task.Delay(10);
        }
    }

    public static AuthenticationHeaderValue Bearer(string token) => new("Bearer", token);

    private static async Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (text.Length == 0)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            Assert.Fail($"{(int)response.StatusCode}: not JSON: {text}");
            return null;
        }
    }

    /// <summary>Fails the test if the broker logged an error.</summary>
    public void AssertNoErrorsLogged() => Assert.True(_log.Errors.Count == 0, "The broker logged errors:\n" + string.Join("\n", _log.Errors));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Host.DisposeAsync();
    }
}
