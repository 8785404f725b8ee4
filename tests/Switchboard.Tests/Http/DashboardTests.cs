using System.Net;
using Microsoft.Playwright;

namespace Switchboard.Tests.Http;

/// <summary>The dashboard: its embedded files, its snapshot stream, and the page itself in a real headless Chromium
/// (Debian's /usr/bin/chromium, driven with Playwright; a missing browser fails the test, as tests/run.sh installs it).</summary>
public sealed class DashboardTests
{
    private const string Chromium = "/usr/bin/chromium";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_page_and_its_files_are_served_from_the_assembly_with_etags()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        using var page = await gateway.Http.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync(Ct);
        Assert.Contains("<script src=\"/dashboard/dashboard.js\"></script>", html);
        Assert.Contains("/dashboard/dashboard.css", html);

        using var js = await gateway.Http.GetAsync("/dashboard/dashboard.js", Ct);
        Assert.Equal("text/javascript", js.Content.Headers.ContentType?.MediaType);
        Assert.Contains("EventSource", await js.Content.ReadAsStringAsync(Ct));
        using var css = await gateway.Http.GetAsync("/dashboard/dashboard.css", Ct);
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);

        var again = new HttpRequestMessage(HttpMethod.Get, "/dashboard/dashboard.js");
        again.Headers.IfNoneMatch.Add(js.Headers.ETag!);
        using var notModified = await gateway.Http.SendAsync(again, Ct);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task The_dashboard_stream_sends_snapshots_and_a_fresh_one_when_a_sender_joins_or_leaves()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(http: new() { DashboardInterval = TimeSpan.FromMinutes(5) }, cancellationToken: Ct);
        await using var stream = await SseReader.OpenAsync(gateway.Http, "/dashboard/stream", cancellationToken: Ct);
        var first = await stream.NextEventAsync();
        Assert.Equal("snapshot", first.Event);
        Assert.Equal(["switchboard"], first.Json["senders"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()));
        Assert.Equal(0, first.Json["drops"]!["listener_overflow"]!.GetValue<long>());
        Assert.Equal(1, first.Json["sse_clients"]!.GetValue<int>());

        // The interval is 5 minutes: only presence can make the next snapshots come now.
        await using (var client = await gateway.ConnectClientAsync(Ct))
        {
            await using var sensor = await client.AddSenderAsync("sensor", ["#temp"], new Dictionary<string, RequestHandler> { ["read"] = (_, _) => default }, cancellationToken: Ct);
            var joined = await NextSnapshotWhereAsync(stream, s => s.Contains("\"name\":\"sensor\"", StringComparison.Ordinal));
            var row = joined.Json["senders"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == "sensor")!;
            Assert.Equal("""{"name":"sensor","events":["#temp"],"requests":["read"],"default_handler":false,"http":false}""", row.ToJsonString());
            await sensor.TriggerAsync("#temp", Payload.Json(20), cancellationToken: Ct);
        }

        await NextSnapshotWhereAsync(stream, s => !s.Contains("\"name\":\"sensor\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Event_rates_are_counted_while_a_dashboard_watches()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(http: new() { DashboardInterval = TimeSpan.FromMilliseconds(200) }, cancellationToken: Ct);
        await using var stream = await SseReader.OpenAsync(gateway.Http, "/dashboard/stream", cancellationToken: Ct);
        await stream.NextEventAsync();
        await gateway.OkAsync("/senders", """{"name":"h1","events":["#t"]}""", Ct);
        for (var i = 0; i < 5; i++)
        {
            await gateway.OkAsync("/publish", """{"sender":"h1","event":"#t","data":1}""", Ct);
        }

        var counted = await NextSnapshotWhereAsync(stream, s => s.Contains("\"sender\":\"h1\",\"event\":\"#t\",", StringComparison.Ordinal)
            && System.Text.Json.Nodes.JsonNode.Parse(s)!["rates"]!.AsArray().Any(r => r!["event"]!.GetValue<string>() == "#t" && r["total"]!.GetValue<long>() == 5));
        Assert.True(counted.Json["http"]!["messages_in"]!.GetValue<long>() >= 5);
    }

    [Fact]
    public async Task In_chromium_the_page_shows_a_sender_that_joins_and_shows_it_leave()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (apt-get install -y chromium; tests/run.sh does it).");
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        var profile = Directory.CreateTempSubdirectory("sb-chromium-");
        try
        {
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(profile.FullName, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
                ViewportSize = new ViewportSize { Width = 1280, Height = 860 },
                Timeout = 60_000,
            });
            var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
            var problems = new List<string>();
            page.Console += (_, message) =>
            {
                if (message.Type == "error")
                {
                    problems.Add("console: " + message.Text);
                }
            };
            page.PageError += (_, error) => problems.Add("page error: " + error);
            var wait = new LocatorWaitForOptions { Timeout = 20_000 };

            await page.GotoAsync(gateway.Host.HttpAddress + "/", new PageGotoOptions { Timeout = 20_000 });
            await page.Locator("#status.live").WaitForAsync(wait);
            await page.Locator("tr[data-sender='switchboard']").WaitForAsync(wait);

            await using (var client = await gateway.ConnectClientAsync(Ct))
            {
                await using var sensor = await client.AddSenderAsync("kitchen-sensor", ["#temperature", "reading"], new Dictionary<string, RequestHandler> { ["get_reading"] = (_, _) => default }, cancellationToken: Ct);
                var row = page.Locator("tr[data-sender='kitchen-sensor']");
                await row.WaitForAsync(wait);
                var text = await row.InnerTextAsync();
                Assert.Contains("#temperature", text);
                Assert.Contains("reading", text);
                Assert.Contains("get_reading", text);

                await gateway.OkAsync("/senders", """{"name":"http-probe","events":["#temperature"]}""", Ct);
                for (var i = 0; i < 30; i++)
                {
                    await sensor.TriggerAsync("#temperature", Payload.Json(20 + (i % 3)), cancellationToken: Ct);
                    await gateway.OkAsync("/publish", $$"""{"sender":"http-probe","event":"#temperature","data":{{i}}}""", Ct);
                }

                await page.Locator("tr[data-rate='kitchen-sensor/#temperature']").WaitForAsync(wait);
                await page.Locator("tr[data-sender='http-probe'] .badge").WaitForAsync(wait);
                await Assertions.Expect(page.Locator("#count-senders")).ToHaveTextAsync("3", new LocatorAssertionsToHaveTextOptions { Timeout = 20_000 });
                Directory.CreateDirectory(ArtifactsDirectory());
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ArtifactsDirectory(), "dashboard.png"), FullPage = true });
            }

            // The client disconnected: its sender leaves the page.
            await page.Locator("tr[data-sender='kitchen-sensor']").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Detached, Timeout = 20_000 });
            Assert.Equal(1, await page.Locator("tr[data-sender='switchboard']").CountAsync());
            Assert.True(problems.Count == 0, string.Join("\n", problems));
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }

    private static async Task<SseItem> NextSnapshotWhereAsync(SseReader stream, Func<string, bool> condition)
    {
        while (true)
        {
            var item = await stream.NextEventAsync();
            if (item.Event == "snapshot" && condition(item.Data!))
            {
                return item;
            }
        }
    }

    /// <summary>The repository's gitignored <c>artifacts/</c> directory.</summary>
    private static string ArtifactsDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Switchboard.sln")))
            {
                return Path.Combine(dir.FullName, "artifacts");
            }
        }

        return Path.Combine(AppContext.BaseDirectory, "artifacts");
    }
}
