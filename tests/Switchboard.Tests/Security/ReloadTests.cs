using Switchboard.Wire;
using Switchboard.Server;
using Switchboard.Server.Security;
using Switchboard.Tests.Http;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Security;

/// <summary>Reloading identities and permissions on a running broker (<c>Broker.Reload</c>, what
/// <c>serve --config</c> does when the file changes): removed identities lose their connections with
/// <c>identity_revoked</c>, kept ones get their new permissions for their next operation, and an invalid
/// configuration is refused whole with the old one kept.</summary>
public sealed class ReloadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_reload_closes_removed_identities_with_identity_revoked_and_gives_kept_ones_their_new_permissions()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        await using var reader = await AdmittedRawPeerAsync(host, SecurityKit.ReaderToken);
        await using var admin = await BusClient.ConnectAsync(host.TcpAddress!, SecurityKit.Client("admin", SecurityKit.AdminToken), Ct);
        await using (await admin.AddSenderAsync("before", ["x"], cancellationToken: Ct))
        {
        }

        var options = SecurityKit.Options();
        var revoked = host.Broker.Reload(options with
        {
            Tokens = [new TokenIdentity { Name = "admin", Token = SecurityKit.AdminToken, Permissions = new Permissions { Senders = new() { Allow = ["ops-one"] } } }],
        });

        Assert.Equal(1, revoked);
        var (code, message) = await reader.ReadErrorAsync(Ct);
        Assert.Equal(ErrorCodes.IdentityRevoked, code);
        Assert.Contains("'reader' was removed", message, StringComparison.Ordinal);
        Assert.True(await reader.ClosedByPeerAsync(Wait.Timeout), "The broker closes a revoked identity's connection.");

        // The admin's connection stays, under its new permissions from its next operation on.
        var denied = await Assert.ThrowsAsync<SwitchboardException>(() => admin.AddSenderAsync("after", ["x"], cancellationToken: Ct).AsTask());
        Assert.Equal(ErrorCodes.Forbidden, denied.Code);
        await using (await admin.AddSenderAsync("ops-one", ["x"], cancellationToken: Ct))
        {
        }

        Assert.True(admin.IsConnected);

        // New connections meet the new configuration: the removed token is refused.
        await using var again = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await again.SendAsync(b => Frames.Hello(b, false, Protocol.Version, "raw", SecurityKit.ReaderToken, 0, 60_000), Ct);
        Assert.Equal(ErrorCodes.Unauthorized, (await again.ReadErrorAsync(Ct)).Code);
    }

    [Fact]
    public async Task A_reload_that_refuses_a_live_listener_closes_that_connection_naming_the_rule_and_keeps_the_others()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        await using var reader = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await reader.SendAsync(b => Frames.Hello(b, false, Protocol.Version, "raw", SecurityKit.ReaderToken, 0, 60_000), Ct);
        await reader.ListenAsync("timer", "tick", Ct); // allowed: 'timer/>'
        await reader.ListenAsync(null, null, Ct); // refused: answered after the first, so that one is in place
        Assert.Equal(ErrorCodes.Forbidden, (await reader.ReadErrorAsync(Ct)).Code);
        await using var admin = await BusClient.ConnectAsync(host.TcpAddress!, SecurityKit.Client("admin", SecurityKit.AdminToken), Ct);
        var heard = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = await admin.ListenAsync("timer", "tick", m => heard.TrySetResult(m.Event), cancellationToken: Ct);

        var options = SecurityKit.Options();
        var narrower = SecurityKit.Reader with { Listen = new() { Allow = ["*/#public.>"] } };
        var closed = host.Broker.Reload(options with
        {
            Tokens = [.. options.Tokens!.Select(t => t.Name == "reader" ? t with { Permissions = narrower } : t)],
        });

        Assert.Equal(1, closed);
        var (code, message) = await reader.ReadErrorAsync(Ct);
        Assert.Equal(ErrorCodes.Forbidden, code);
        Assert.Contains("reloaded configuration refuses what this connection holds", message, StringComparison.Ordinal);
        Assert.Contains("timer", message, StringComparison.Ordinal);
        Assert.True(await reader.ClosedByPeerAsync(Wait.Timeout), "The broker closes the connection whose listener is now refused.");

        // The admin's listener is untouched.
        await using var timer = await admin.AddSenderAsync("timer", ["tick"], cancellationToken: Ct);
        await timer.TriggerAsync("tick", default, cancellationToken: Ct);
        Assert.Equal("tick", await heard.Task.WaitAsync(Wait.Timeout, Ct));
    }

    [Fact]
    public async Task A_reload_ends_sse_streams_it_refuses_or_whose_identity_it_removed_with_a_notice_and_keeps_the_others()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        await using var refused = await SseReader.OpenAsync(gateway.Http, "/events?sender=timer&event=tick&token=" + SecurityKit.ReaderToken, cancellationToken: Ct);
        await using var kept = await SseReader.OpenAsync(gateway.Http, "/events?sender=timer&event=tick&token=" + SecurityKit.AdminToken, cancellationToken: Ct);

        var options = SecurityKit.Options();
        var narrower = SecurityKit.Reader with { Listen = new() { Allow = ["*/#public.>"] } };
        gateway.Host.Broker.Reload(options with { Tokens = [.. options.Tokens!.Select(t => t.Name == "reader" ? t with { Permissions = narrower } : t)] });

        var notice = await refused.NextEventAsync();
        Assert.Equal("sb-error", notice.Event);
        Assert.Equal(ErrorCodes.Forbidden, notice.Json["code"]!.GetValue<string>());
        Assert.Contains("reloaded configuration refuses this stream", notice.Json["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // The admin's stream goes on under the reloaded configuration, until a reload removes the admin.
        await using var client = await BusClient.ConnectAsync(gateway.Host.TcpAddress!, SecurityKit.Client("admin", SecurityKit.AdminToken), Ct);
        await using var timer = await client.AddSenderAsync("timer", ["tick"], cancellationToken: Ct);
        await timer.TriggerAsync("tick", Payload.Json(1), cancellationToken: Ct);
        Assert.Equal("tick", (await kept.NextEventAsync()).Event);

        gateway.Host.Broker.Reload(options with { Tokens = [.. options.Tokens!.Where(t => t.Name != "admin")] });
        var revoked = await kept.NextEventAsync();
        Assert.Equal("sb-error", revoked.Event);
        Assert.Equal(ErrorCodes.IdentityRevoked, revoked.Json["code"]!.GetValue<string>());
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_reload_changes_which_origins_may_call_the_http_gateway()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, await SendersFromAsync(gateway, "https://app.example"));

        var options = SecurityKit.Options();
        gateway.Host.Broker.Reload(options with { Browser = new BrowserOptions { AllowedOrigins = ["https://app.example"] } });
        Assert.Equal(System.Net.HttpStatusCode.OK, await SendersFromAsync(gateway, "https://app.example"));
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, await SendersFromAsync(gateway, "https://evil.example"));

        // An invalid origin is refused whole, naming it; the rules in force stay.
        var refused = Assert.ThrowsAny<Exception>(() => gateway.Host.Broker.Reload(options with { Browser = new BrowserOptions { AllowedOrigins = ["not an origin"] } }));
        Assert.Contains("not an origin", refused.Message, StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.OK, await SendersFromAsync(gateway, "https://app.example"));
    }

    private static async Task<System.Net.HttpStatusCode> SendersFromAsync(HttpGatewayHarness gateway, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/senders");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", SecurityKit.AdminToken);
        request.Headers.Add("Origin", origin);
        using var response = await gateway.Http.SendAsync(request, Ct);
        return response.StatusCode;
    }

    [Fact]
    public async Task An_invalid_reload_is_refused_naming_the_problem_and_the_old_configuration_stays()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        await using var reader = await AdmittedRawPeerAsync(host, SecurityKit.ReaderToken);

        var bad = SecurityKit.Options() with { Tokens = [new TokenIdentity { Name = "admin", Token = "short" }] };
        var refused = Assert.Throws<SwitchboardException>(() => host.Broker.Reload(bad));
        Assert.Contains("Security.Tokens[0] 'admin': Token must be at least 8 characters", refused.Message, StringComparison.Ordinal);
        Assert.Throws<SwitchboardException>(() => host.Broker.Reload(new SecurityOptions())); // cannot turn credentials off

        // The old configuration still holds: the reader is still connected and its token still admits new clients.
        await using var second = await AdmittedRawPeerAsync(host, SecurityKit.ReaderToken);
        await Wait.UntilAsync(() => host.Broker.ConnectionCount == 2, "both reader connections stay");
    }

    /// <summary>A raw binary connection admitted as <paramref name="token"/>: its denied whole-bus LISTEN answers
    /// <c>forbidden</c> once the handshake passed, so the identity is known before the test goes on.</summary>
    private static async Task<RawPeer> AdmittedRawPeerAsync(BrokerHost host, string token)
    {
        var peer = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await peer.SendAsync(b => Frames.Hello(b, false, Protocol.Version, "raw", token, 0, 60_000), Ct);
        await peer.SendAsync(b => Frames.Listen(b, false, 1, 1, null, null, null, false), Ct);
        Assert.Equal(ErrorCodes.Forbidden, (await peer.ReadErrorAsync(Ct)).Code);
        return peer;
    }
}
