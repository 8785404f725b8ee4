using System.Net.Http.Headers;
using System.Text;
using Switchboard.Server;
using Switchboard.Server.Security;
using Switchboard.Tests.Http;
using JsonLinesPeer = Switchboard.Tests.JsonLines.JsonLinesPeer;
using Switchboard.Tests.Support;
using Switchboard.Wire;

namespace Switchboard.Tests.Security;

/// <summary>Identities on every surface, over real sockets: no credentials, wrong ones, expired ones and right ones, for
/// tokens, PBKDF2 users and JWTs (HMAC and RSA); a JWT expiring on a live connection; an address that keeps failing.</summary>
public sealed class IdentityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Binary_clients_need_right_credentials_of_any_kind()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        var address = host.TcpAddress!;

        Assert.Contains("requires credentials", await RefusedAsync(address, null), StringComparison.Ordinal);
        Assert.Contains("not a configured token", await RefusedAsync(address, "not-a-token"), StringComparison.Ordinal);
        Assert.Contains("wrong password for 'alice'", await RefusedAsync(address, "alice:wrong"), StringComparison.Ordinal);
        Assert.Contains("signature does not verify", await RefusedAsync(address, SecurityKit.Jwt("eve", TimeSpan.FromMinutes(5), key: new byte[32])), StringComparison.Ordinal);
        Assert.Contains("expired", await RefusedAsync(address, SecurityKit.Jwt("eve", TimeSpan.FromSeconds(-60))), StringComparison.Ordinal);
        Assert.Contains("issuer", await RefusedAsync(address, SecurityKit.Jwt("eve", TimeSpan.FromMinutes(5), issuer: "https://evil.example")), StringComparison.Ordinal);
        Assert.Equal(6, host.Broker.AuthRefusals);
        Assert.Equal(0, host.Broker.ProtocolErrors);

        foreach (var credentials in new[] { SecurityKit.AdminToken, "alice:" + SecurityKit.UserPassword, SecurityKit.Jwt("app-user", TimeSpan.FromMinutes(5)), SecurityKit.Jwt("rsa-user", TimeSpan.FromMinutes(5), rsa: true) })
        {
            await using var client = await BusClient.ConnectAsync(address, SecurityKit.Client("friend", credentials), Ct);
            Assert.True(client.IsConnected);
            Assert.Contains(await client.GetSendersAsync(Ct), s => s.Name == Server.Broker.SystemSender);
        }

        Assert.Equal(6, host.Broker.AuthRefusals);
    }

    [Fact]
    public async Task A_jwt_that_expires_on_a_live_binary_connection_ends_it_with_token_expired()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        await using var peer = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        var token = SecurityKit.Jwt("short-lived", TimeSpan.FromSeconds(2));
        await peer.SendAsync(b => Frames.Hello(b, false, Protocol.Version, "raw", token, 0, 60_000), Ct);
        await peer.SendAsync(b => Frames.Listen(b, false, 1, 1, null, "#public.x", null, false), Ct);

        var (code, message) = await peer.ReadErrorAsync(Ct);
        Assert.Equal(ErrorCodes.TokenExpired, code);
        Assert.Contains("'short-lived' expired", message, StringComparison.Ordinal);
        Assert.True(await peer.ClosedByPeerAsync(Wait.Timeout), "The broker closes the connection after token_expired.");
        await Wait.UntilAsync(() => host.Broker.ConnectionCount == 0, "the expired connection is gone");
    }

    [Fact]
    public async Task A_client_with_a_credentials_provider_comes_back_with_a_fresh_jwt_after_token_expired_and_keeps_its_listeners()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        var issued = 0;
        var options = Fixtures.FastReconnect("refreshing") with
        {
            CredentialsProvider = _ => ValueTask.FromResult<string?>(SecurityKit.Jwt($"device-{Interlocked.Increment(ref issued)}", TimeSpan.FromSeconds(2))),
        };
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, options, Ct);
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        string? lostBecause = null;
        client.Disconnected += (_, e) => lostBecause ??= e.Reason;
        client.Reconnected += (_, _) => reconnected.TrySetResult();
        var heard = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = await client.ListenAsync("sensor", "reading", m => heard.TrySetResult(m.Data.As<int>()), cancellationToken: Ct);
        await using var sensor = await client.AddSenderAsync("sensor", ["reading"], cancellationToken: Ct);

        // The first token lives 2 s: the broker ends the connection with token_expired, the client asks for a new one.
        await reconnected.Task.WaitAsync(Wait.Timeout, Ct);
        Assert.Contains("expired", lostBecause, StringComparison.Ordinal);
        Assert.True(Volatile.Read(ref issued) >= 2, $"the provider was asked {issued} time(s)");

        await sensor.TriggerAsync("reading", Payload.Json(7), cancellationToken: Ct);
        Assert.Equal(7, await heard.Task.WaitAsync(Wait.Timeout, Ct));
    }

    [Fact]
    public async Task Json_lines_hello_takes_tokens_users_and_jwts_and_an_expiring_jwt_ends_the_connection()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        await using (var nobody = await JsonLinesPeer.ConnectAsync(host, Ct))
        {
            await nobody.ErrorAsync("""{"op":"hello","client":"nobody","id":1}""", ErrorCodes.Unauthorized, 1);
            Assert.True(await nobody.ClosedByBrokerAsync());
        }

        await using (var alice = await JsonLinesPeer.ConnectAsync(host, Ct))
        {
            await alice.OkAsync($$"""{"op":"hello","client":"a","user":"alice","password":"{{SecurityKit.UserPassword}}","id":1}""", 1);
            await alice.OkAsync("""{"op":"sender","name":"alice","events":["alice.status"],"id":2}""", 2);
        }

        await using (var admin = await JsonLinesPeer.ConnectAsync(host, Ct))
        {
            await admin.OkAsync($$"""{"op":"hello","client":"a","token":"{{SecurityKit.AdminToken}}","id":1}""", 1);
        }

        await using var app = await JsonLinesPeer.ConnectAsync(host, Ct);
        await app.OkAsync($$"""{"op":"hello","client":"app","token":"{{SecurityKit.Jwt("app-user", TimeSpan.FromSeconds(2))}}","heartbeat":false,"id":1}""", 1);
        var expired = await app.ExpectErrorAsync(ErrorCodes.TokenExpired, 1);
        Assert.Contains("app-user", expired["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(await app.ClosedByBrokerAsync(), "token_expired closes the JSON-lines connection.");
    }

    [Fact]
    public async Task Http_takes_bearer_tokens_jwts_and_basic_users_and_refuses_the_rest_with_401()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        Assert.Equal(401, await StatusAsync(gateway, null));
        Assert.Equal(401, await StatusAsync(gateway, new AuthenticationHeaderValue("Bearer", "wrong-token")));
        Assert.Equal(401, await StatusAsync(gateway, Basic("alice", "wrong")));
        Assert.Equal(401, await StatusAsync(gateway, new AuthenticationHeaderValue("Bearer", SecurityKit.Jwt("old", TimeSpan.FromSeconds(-60)))));
        Assert.Equal(200, await StatusAsync(gateway, new AuthenticationHeaderValue("Bearer", SecurityKit.AdminToken)));
        Assert.Equal(200, await StatusAsync(gateway, Basic("alice", SecurityKit.UserPassword)));
        Assert.Equal(200, await StatusAsync(gateway, Basic("alice", SecurityKit.UserPassword))); // the second time from the verified cache
        Assert.Equal(200, await StatusAsync(gateway, new AuthenticationHeaderValue("Bearer", SecurityKit.Jwt("web", TimeSpan.FromMinutes(1), rsa: true))));

        using var refused = new HttpRequestMessage(HttpMethod.Get, "/senders");
        using var response = await gateway.Http.SendAsync(refused, Ct);
        Assert.Contains("Basic", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task An_sse_stream_opened_with_a_jwt_ends_with_a_token_expired_event_when_it_expires()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        var token = SecurityKit.Jwt("viewer", TimeSpan.FromSeconds(2));
        await using var events = await SseReader.OpenAsync(gateway.Http, "/events?event=%23public.news&token=" + Uri.EscapeDataString(token), cancellationToken: Ct);
        var notice = await events.NextEventAsync();
        Assert.Equal("sb-error", notice.Event);
        Assert.Equal(ErrorCodes.TokenExpired, notice.Json["code"]!.GetValue<string>());
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task An_address_that_keeps_failing_is_refused_unchecked_on_every_surface_until_it_gets_a_try_back()
    {
        var options = SecurityKit.Broker(SecurityKit.Options() with { AuthFailureBurst = 3, AuthFailureRefill = TimeSpan.FromSeconds(5) });
        await using var gateway = await HttpGatewayHarness.StartAsync(options, cancellationToken: Ct);
        var address = gateway.Host.TcpAddress!;
        for (var i = 0; i < 5; i++)
        {
            Assert.Contains("requires credentials", await RefusedAsync(address, null), StringComparison.Ordinal); // guesses nothing, costs nothing
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Contains("not a configured token", await RefusedAsync(address, "guess-" + i), StringComparison.Ordinal);
        }

        // Now even the right token is refused from this address, without being checked, on every surface.
        Assert.Contains("Too many refused credentials from 127.0.0.1", await RefusedAsync(address, SecurityKit.AdminToken), StringComparison.Ordinal);
        using var http = new HttpRequestMessage(HttpMethod.Get, "/senders") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", SecurityKit.AdminToken) } };
        Assert.Contains("Too many refused credentials", HttpGatewayHarness.AssertError(await gateway.SendAsync(http, Ct), 401, ErrorCodes.Unauthorized), StringComparison.Ordinal);

        // One try comes back per refill: the right token gets in then.
        var deadline = DateTime.UtcNow + Wait.Timeout;
        while (true)
        {
            try
            {
                await using var client = await BusClient.ConnectAsync(address, SecurityKit.Client("patient", SecurityKit.AdminToken), Ct);
                break;
            }
            catch (SwitchboardException ex) when (ex.Message.Contains("Too many", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, Ct);
            }
        }
    }

    [Fact]
    public async Task Anonymous_clients_get_in_only_when_configured_and_with_their_own_permissions()
    {
        var anonymous = new Permissions { Senders = new() { Deny = [">"] }, Listen = new() { Allow = ["*/#public.>"] } };
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(SecurityKit.Options(anonymous: anonymous)), cancellationToken: Ct);
        await using var guest = await BusClient.ConnectAsync(host.TcpAddress!, SecurityKit.Client("guest", null), Ct);
        await using var news = await guest.ListenAsync(null, "#public.news", cancellationToken: Ct);
        var refused = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await guest.AddSenderAsync("guest", ["#public.news"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.Forbidden, refused.Code);
        Assert.Contains("'anonymous'", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Password_hashes_are_self_describing_salted_and_checked()
    {
        var hash = PasswordHash.Create("s3cret", iterations: 1000);
        Assert.StartsWith("pbkdf2-sha256$1000$", hash, StringComparison.Ordinal);
        Assert.NotEqual(hash, PasswordHash.Create("s3cret", iterations: 1000)); // a fresh salt each time
        Assert.True(PasswordHash.Verify(hash, "s3cret"));
        Assert.False(PasswordHash.Verify(hash, "s3cret "));
        Assert.Equal(ErrorCodes.InvalidArgument, Assert.Throws<SwitchboardException>(() => PasswordHash.Verify("plain-text-password", "x")).Code);
    }

    [Fact]
    public async Task Configuration_mistakes_fail_at_start_naming_the_setting()
    {
        var badHash = SecurityKit.Options() with { Users = [new UserIdentity { Name = "bob", Password = "hunter2" }] };
        Assert.Contains("Security.Users[0] 'bob': Password", (await StartFailsAsync(badHash)).Message, StringComparison.Ordinal);

        var badRule = SecurityKit.Options() with { Tokens = [new TokenIdentity { Name = "t", Token = "0123456789", Permissions = new() { Listen = new() { Allow = ["timer/a..b"] } } }] };
        Assert.Contains("Listen.Allow[0] 'timer/a..b'", (await StartFailsAsync(badRule)).Message, StringComparison.Ordinal);

        var shortKey = SecurityKit.Options() with { Jwt = new JwtOptions { HmacKey = Convert.ToBase64String(new byte[8]) } };
        Assert.Contains("at least 32 bytes", (await StartFailsAsync(shortKey)).Message, StringComparison.Ordinal);
    }

    private static async Task<SwitchboardException> StartFailsAsync(SecurityOptions security) =>
        await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await (await BrokerHost.StartAsync(SecurityKit.Broker(security), cancellationToken: Ct)).DisposeAsync());

    private static async Task<string> RefusedAsync(string address, string? credentials)
    {
        var error = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(address, SecurityKit.Client("intruder", credentials), Ct));
        Assert.Equal(ErrorCodes.ConnectFailed, error.Code);
        return error.Message;
    }

    private static async Task<int> StatusAsync(HttpGatewayHarness gateway, AuthenticationHeaderValue? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/senders");
        request.Headers.Authorization = authorization;
        return (await gateway.SendAsync(request, Ct)).Status;
    }

    private static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
}
