using System.Security.Cryptography.X509Certificates;
using Switchboard.Server;
using Switchboard.Server.Security;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Security;

/// <summary>TLS on the broker's TCP endpoints with certificates made at test time (a private CA, a server certificate
/// for 127.0.0.1 and localhost, client certificates): sbs:// verified against the CA, a client trusting another CA
/// refused, plain TCP against a TLS port refused, HTTPS, a renewed certificate picked up without a restart, and mutual
/// TLS mapped to an identity with its permissions.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sb-tls-");
    private readonly TestCa _ca = new("Switchboard Test CA");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_client_trusting_the_broker_ca_connects_over_sbs_and_others_are_refused()
    {
        var tls = WriteServerFiles(_ca, "broker");
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, Security = new SecurityOptions { Tls = tls } }, cancellationToken: Ct);
        Assert.StartsWith("sbs://127.0.0.1:", host.TcpAddress, StringComparison.Ordinal);

        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, Trusting(_ca), Ct);
        await using var sender = await client.AddSenderAsync("s", ["#t"], cancellationToken: Ct);
        await using var queue = await client.ListenAsync(null, "#t", cancellationToken: Ct);
        await sender.TriggerAsync("#t", Payload.Utf8("over tls"), cancellationToken: Ct);
        Assert.Equal("over tls", (await queue.NextAsync()).Data.ToString());

        using var other = new TestCa("Some Other CA");
        var untrusted = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(host.TcpAddress!, Trusting(other), Ct));
        Assert.Contains("TLS with 127.0.0.1 failed", untrusted.Message, StringComparison.Ordinal);
        var systemRoots = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct));
        Assert.Contains("TLS", systemRoots.Message, StringComparison.Ordinal);
        await using (var elsewhere = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, Security = new SecurityOptions { Tls = WriteServerFiles(_ca, "elsewhere", forLoopback: false) } }, cancellationToken: Ct))
        {
            // Signed by the trusted CA, but for another name: refused.
            var wrongName = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(elsewhere.TcpAddress!, Trusting(_ca), Ct));
            Assert.Contains("TLS with 127.0.0.1 failed", wrongName.Message, StringComparison.Ordinal);
        }

        var plain = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(host.TcpAddress!.Replace("sbs://", "sb://", StringComparison.Ordinal), new BusClientOptions { ConnectTimeout = TimeSpan.FromSeconds(3) }, Ct));
        Assert.Equal(ErrorCodes.ConnectFailed, plain.Code);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Https_and_wss_serve_with_the_certificate_and_a_renewed_one_is_used_without_a_restart()
    {
        var tls = WriteServerFiles(_ca, "first");
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, HttpPort = 0, Security = new SecurityOptions { Tls = tls } }, cancellationToken: Ct);
        Assert.StartsWith("https://", host.HttpAddress, StringComparison.Ordinal);
        Assert.StartsWith("wss://", host.WebSocketAddress, StringComparison.Ordinal);
        Assert.Equal("CN=first", await PresentedSubjectAsync(host.HttpAddress!));
        await using (var overWss = await BusClient.ConnectAsync(host.WebSocketAddress!, Trusting(_ca), Ct))
        {
            Assert.Contains(await overWss.GetSendersAsync(Ct), s => s.Name == Server.Broker.SystemSender);
        }

        using (var other = new TestCa("Some Other CA"))
        {
            await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(host.WebSocketAddress!, Trusting(other), Ct));
        }

        WriteServerFiles(_ca, "renewed");
        var deadline = DateTime.UtcNow + Wait.Timeout;
        while (await PresentedSubjectAsync(host.HttpAddress!) != "CN=renewed")
        {
            Assert.True(DateTime.UtcNow < deadline, "The renewed certificate was never presented.");
            await Task.Delay(200, Ct);
        }
    }

    [Fact]
    public async Task A_client_certificate_signed_by_the_client_ca_is_an_identity_with_its_permissions()
    {
        using var clients = new TestCa("Switchboard Clients CA");
        var security = await DeviceSecurityAsync(clients, "require");
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, Security = security }, cancellationToken: Ct);

        using var device = clients.Issue("device-7", clientAuth: true);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, Trusting(_ca, device), Ct);
        await using var own = await client.AddSenderAsync("device-7", ["reading"], cancellationToken: Ct);
        var forbidden = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await client.AddSenderAsync("device-8", ["reading"], cancellationToken: Ct));
        Assert.Contains("The identity 'device-7'", forbidden.Message, StringComparison.Ordinal);

        using var unknown = clients.Issue("device-9", clientAuth: true);
        var refused = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(host.TcpAddress!, Trusting(_ca, unknown), Ct));
        Assert.Contains("'device-9' names no configured identity", refused.Message, StringComparison.Ordinal);

        using var stranger = _ca.Issue("device-7", clientAuth: true); // the right name, signed by another authority
        await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(host.TcpAddress!, Trusting(_ca, stranger), Ct));
        await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(host.TcpAddress!, Trusting(_ca), Ct)); // none at all
    }

    [Fact]
    public async Task A_client_certificate_over_wss_is_the_same_identity_as_over_sbs()
    {
        using var clients = new TestCa("Switchboard Clients CA");
        var security = await DeviceSecurityAsync(clients, "allow");
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, HttpPort = 0, Security = security }, cancellationToken: Ct);
        Assert.StartsWith("wss://", host.WebSocketAddress, StringComparison.Ordinal);

        using var device = clients.Issue("device-7", clientAuth: true);
        await using var client = await BusClient.ConnectAsync(host.WebSocketAddress!, Trusting(_ca, device), Ct);
        await using var own = await client.AddSenderAsync("device-7", ["reading"], cancellationToken: Ct);
        var forbidden = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await client.AddSenderAsync("device-8", ["reading"], cancellationToken: Ct));
        Assert.Contains("The identity 'device-7'", forbidden.Message, StringComparison.Ordinal);

        // Without a certificate (allowed at the TLS level) nothing proves an identity: refused at the handshake.
        var refused = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(host.WebSocketAddress!, Trusting(_ca), Ct));
        Assert.Contains("This broker requires credentials", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>TLS with client certificates of <paramref name="clients"/> (<paramref name="mode"/>: allow or require) and
    /// one certificate identity, device-7, that may register only the sender device-7.</summary>
    private async Task<SecurityOptions> DeviceSecurityAsync(TestCa clients, string mode)
    {
        var caFile = Path.Combine(_directory.FullName, "clients-ca.pem");
        await File.WriteAllTextAsync(caFile, clients.Certificate.ExportCertificatePem(), Ct);
        return new SecurityOptions
        {
            Tls = WriteServerFiles(_ca, "broker") with { ClientCertificates = mode, ClientCaFile = caFile },
            Certificates = [new CertificateIdentity { Name = "device-7", Permissions = new Permissions { Senders = new() { Allow = ["device-7"] } } }],
        };
    }

    private static BusClientOptions Trusting(TestCa ca, X509Certificate2? client = null) => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        Tls = new BusTlsOptions { TrustedRoots = [ca.Certificate], ClientCertificate = client },
    };

    private TlsOptions WriteServerFiles(TestCa ca, string subject, bool forLoopback = true) => ca.WriteServerFiles(_directory.FullName, subject, forLoopback);

    private async Task<string> PresentedSubjectAsync(string https)
    {
        string? subject = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
            {
                subject = certificate?.Subject;
                return certificate is not null && _ca.Verifies(certificate);
            },
        };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(https) };
        Assert.Equal("ok", await http.GetStringAsync("/healthz", Ct));
        return subject!;
    }

    public void Dispose()
    {
        _ca.Dispose();
        _directory.Delete(recursive: true);
    }
}
