using System.Net;
using System.Text;
using Microsoft.Playwright;
using Switchboard.Tests.Http;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Security;

/// <summary>
/// The attacks of issue 14 from a real headless Chromium (Debian's /usr/bin/chromium over Playwright): a page served
/// from another origin (another port of 127.0.0.1) tries a JSON fetch, a no-cors text POST, a cross-site form, a
/// WebSocket to <c>/ws</c>, an EventSource and a read of <c>/senders</c>; and a page whose host name resolves to the
/// broker (DNS rebinding, simulated with Chromium's host resolver rules). Every one is refused, and the broker shows it:
/// no sender registered, nothing published.
/// </summary>
public sealed class BrowserAttackTests
{
    private const string Chromium = "/usr/bin/chromium";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_attack_from_a_foreign_page_in_chromium_is_refused()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (tests/run.sh does it).");
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"victim","events":["#alarm"]}""", Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        await using var alarms = await client.ListenAsync(null, "#alarm", cancellationToken: Ct);
        var broker = new Uri(gateway.Host.HttpAddress!);

        using var attacker = new HttpListener();
        var attackerPort = Fixtures.FreePort();
        attacker.Prefixes.Add($"http://127.0.0.1:{attackerPort}/");
        attacker.Start();
        var serving = ServeAsync(attacker, AttackPage(broker));

        var profile = Directory.CreateTempSubdirectory("sb-chromium-");
        try
        {
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(profile.FullName, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                    "--host-resolver-rules=MAP rebound.test 127.0.0.1"],
                Timeout = 60_000,
            });
            var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
            await page.GotoAsync($"http://127.0.0.1:{attackerPort}/", new PageGotoOptions { Timeout = 20_000 });
            var results = await page.WaitForFunctionAsync("() => window.done && window.results", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
            var outcome = (await results.JsonValueAsync<Dictionary<string, string>>())!;
            foreach (var attack in new[] { "fetch-json", "no-cors-post", "form-post", "websocket", "eventsource", "read-senders" })
            {
                Assert.True(outcome.TryGetValue(attack, out var result) && result == "blocked", $"{attack}: {(outcome.TryGetValue(attack, out var r) ? r : "no result")}");
            }

            // DNS rebinding: the attacker's name now resolves to the broker; its page would be same-origin with it.
            var rebound = await page.GotoAsync($"http://rebound.test:{broker.Port}/senders", new PageGotoOptions { Timeout = 20_000 });
            Assert.Equal(403, rebound!.Status);
            Assert.Contains("forbidden_host", await rebound.TextAsync(), StringComparison.Ordinal);
        }
        finally
        {
            attacker.Stop();
            await serving;
            profile.Delete(recursive: true);
        }

        // The broker saw the attempts and did nothing for them.
        var (_, senders) = await gateway.GetJsonAsync("/senders", Ct);
        Assert.DoesNotContain(senders!.AsArray(), s => s!["name"]!.GetValue<string>().StartsWith("evil", StringComparison.Ordinal));
        await gateway.OkAsync("/publish", """{"sender":"victim","event":"#alarm","data":"real"}""", Ct);
        Assert.Equal("\"real\"", (await alarms.NextAsync()).Data.ToString()); // the first alarm is the real one: no forged one came before it
        gateway.AssertNoErrorsLogged();
    }

    private static async Task ServeAsync(HttpListener listener, string html)
    {
        var bytes = Encoding.UTF8.GetBytes(html);
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            context.Response.ContentType = "text/html; charset=utf-8";
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    /// <summary>Each attack records "blocked" when the browser could not get through (or read the answer), else what it got.</summary>
    private static string AttackPage(Uri broker) => $$"""
        <!doctype html><html><body>
        <iframe name="sink" style="display:none"></iframe>
        <form id="f" method="POST" action="{{broker}}senders" enctype="text/plain" target="sink">
          <input name='{"name":"evil-form","events":["#alarm"],"x":"' value='"}'>
        </form>
        <script>
        const broker = "{{broker.ToString().TrimEnd('/')}}";
        window.results = {};
        const attempt = async (name, run) => { try { window.results[name] = await run(); } catch (e) { window.results[name] = "blocked"; } };
        (async () => {
          await attempt("fetch-json", async () => {
            const r = await fetch(broker + "/senders", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"name":"evil-fetch","events":["#alarm"]}' });
            return "got " + r.status;
          });
          await attempt("no-cors-post", async () => {
            await fetch(broker + "/publish", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: '{"sender":"victim","event":"#alarm","data":"forged"}' });
            await fetch(broker + "/senders", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: '{"name":"evil-nocors","events":["#alarm"]}' });
            return "blocked"; // opaque either way: the broker's side shows whether it acted
          });
          await attempt("form-post", () => new Promise(resolve => { document.querySelector("iframe").onload = () => resolve("blocked"); document.getElementById("f").submit(); setTimeout(() => resolve("blocked"), 3000); }));
          await attempt("websocket", () => new Promise(resolve => {
            const ws = new WebSocket(broker.replace("http", "ws") + "/ws");
            ws.onopen = () => resolve("opened");
            ws.onerror = () => resolve("blocked");
            ws.onclose = () => resolve("blocked");
          }));
          await attempt("eventsource", () => new Promise(resolve => {
            const es = new EventSource(broker + "/events?event=%23alarm");
            es.onopen = () => { es.close(); resolve("opened"); };
            es.onerror = () => { es.close(); resolve("blocked"); };
          }));
          await attempt("read-senders", async () => { const r = await fetch(broker + "/senders"); return "read " + (await r.text()).length + " bytes"; });
          window.done = true;
        })();
        </script></body></html>
        """;
}
