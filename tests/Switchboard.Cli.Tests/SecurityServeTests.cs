using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Switchboard.Cli.Tests.Support;
using Switchboard.Server.Security;

namespace Switchboard.Cli.Tests;

/// <summary><c>serve --config</c> with identities, the safe default when exposed, and <c>hash-password</c>, as real processes.</summary>
public sealed class SecurityServeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sb-security-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Serve_with_a_config_file_admits_its_identities_with_their_permissions_and_refuses_the_rest()
    {
        var hash = PasswordHash.Create("pw-of-bob", iterations: 1000);
        var config = WriteConfig("""
            {"Security":{
              "Tokens":[{"Name":"svc","Token":"svc-token-123456","Permissions":{"Senders":{"Allow":["svc"]},"Listen":{"Deny":["*/#private.>"]}}}],
              "Users":[{"Name":"bob","Password":"HASH"}]
            }}
            """.Replace("HASH", hash, StringComparison.Ordinal));
        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off", "--config", config);
        Assert.Contains("1 token(s), 1 user(s)", await serve.WaitForErrAsync("security: "), StringComparison.Ordinal);
        var address = (await serve.WaitForOutAsync("listening: sb://"))["listening: ".Length..];

        var refused = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(address, new BusClientOptions { Credentials = "bob:wrong" }, Ct));
        Assert.Contains("wrong password", refused.Message, StringComparison.Ordinal);
        await using var bob = await BusClient.ConnectAsync(address, new BusClientOptions { Credentials = "bob:pw-of-bob" }, Ct);
        await using var svc = await BusClient.ConnectAsync(address, new BusClientOptions { Credentials = "svc-token-123456" }, Ct);
        await using var sender = await svc.AddSenderAsync("svc", ["#private.x"], cancellationToken: Ct);
        var forbidden = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await svc.ListenAsync(null, "#private.x", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.Forbidden, forbidden.Code);
        await using var queue = await bob.ListenAsync(null, "#private.x", cancellationToken: Ct);
    }

    [Fact]
    public async Task Serve_reloads_its_config_file_when_it_changes_and_on_sighup_and_keeps_the_old_one_when_the_new_is_invalid()
    {
        const string Svc = """{"Name":"svc","Token":"svc-token-123456","Permissions":{"Senders":{"Allow":["svc","svc2"]}}}""";
        const string Old = """{"Name":"old","Token":"old-token-123456"}""";
        var config = WriteConfig($$$"""{"Security":{"Tokens":[{{{Svc}}},{{{Old}}}]}}""");
        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off", "--config", config);
        var address = (await serve.WaitForOutAsync("listening: sb://"))["listening: ".Length..];
        await using var svc = await BusClient.ConnectAsync(address, new BusClientOptions { Credentials = "svc-token-123456" }, Ct);
        await using var old = await BusClient.ConnectAsync(address, new BusClientOptions { Credentials = "old-token-123456" }, Ct);
        await using (await svc.AddSenderAsync("svc2", ["x"], cancellationToken: Ct))
        {
        }

        // The edit removes 'old' and narrows what svc may register.
        WriteConfig("""{"Security":{"Tokens":[{"Name":"svc","Token":"svc-token-123456","Permissions":{"Senders":{"Allow":["svc"]}}}]}}""");
        var reloaded = await serve.WaitForErrAsync("config reloaded (the file changed)");
        Assert.Contains("1 token(s)", reloaded, StringComparison.Ordinal);
        Assert.Contains("1 connection(s) closed (identity_revoked", reloaded, StringComparison.Ordinal);
        var forbidden = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await svc.AddSenderAsync("svc2", ["x"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.Forbidden, forbidden.Code);
        await using (await svc.AddSenderAsync("svc", ["x"], cancellationToken: Ct))
        {
        }

        Assert.True(svc.IsConnected);
        var revoked = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(address, new BusClientOptions { Credentials = "old-token-123456" }, Ct));
        Assert.Contains("not a configured token", revoked.Message, StringComparison.Ordinal);

        // An invalid file is refused in one line naming the problem; SIGHUP reads it again, with the same answer.
        WriteConfig("""{"Security":{"Tokens":[{"Name":"svc","Token":"short"}]}}""");
        var refused = await serve.WaitForErrAsync("config reload refused (the file changed)");
        Assert.Contains("the old configuration stays: Security.Tokens[0] 'svc': Token must be at least 8 characters", refused, StringComparison.Ordinal);
        using (var hangup = System.Diagnostics.Process.Start("kill", ["-HUP", serve.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await hangup.WaitForExitAsync(Ct);
        }

        await serve.WaitForErrAsync("config reload refused (SIGHUP)");
        Assert.False(serve.HasExited);
        await using (await svc.AddSenderAsync("svc", ["y"], cancellationToken: Ct)) // the old configuration still holds
        {
        }
    }

    [Fact]
    public async Task Serve_started_without_identities_refuses_a_reload_that_adds_some_and_keeps_running()
    {
        var config = WriteConfig("""{"Security":{}}""");
        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off", "--config", config);
        var address = (await serve.WaitForOutAsync("listening: sb://"))["listening: ".Length..];
        await using var client = await BusClient.ConnectAsync(address, cancellationToken: Ct);

        WriteConfig("""{"Security":{"Tokens":[{"Name":"svc","Token":"svc-token-123456"}]}}""");
        var refused = await serve.WaitForErrAsync("config reload refused (the file changed)");
        Assert.Contains("started without identities", refused, StringComparison.Ordinal);
        Assert.False(serve.HasExited);
        await using (await client.AddSenderAsync("still-served", ["x"], cancellationToken: Ct))
        {
        }
    }

    [Fact]
    public async Task Serve_refuses_to_listen_beyond_loopback_without_identities_in_one_line()
    {
        var (code, _, err) = await CliProcess.RunAsync("serve", "--host", "0.0.0.0", "--port", "0", "--jsonl-port", "off", "--http-port", "off");
        Assert.Equal(2, code);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: --host 0.0.0.0 listens beyond this machine", line, StringComparison.Ordinal);
        Assert.Contains("--allow-anonymous", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_config_the_broker_cannot_use_is_one_usage_line_naming_the_setting()
    {
        var config = WriteConfig("""{"Security":{"Users":[{"Name":"bob","Password":"hunter2"}]}}""");
        var (code, _, err) = await CliProcess.RunAsync("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off", "--config", config);
        Assert.Equal(2, code);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: --config: Security.Users[0] 'bob': Password", line, StringComparison.Ordinal);

        var (missingCode, _, missing) = await CliProcess.RunAsync("serve", "--port", "0", "--config", Path.Combine(_directory, "nope.json"));
        Assert.Equal(2, missingCode);
        Assert.Contains("does not exist", missing, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_with_tls_flags_listens_on_sbs_and_a_client_trusting_its_ca_connects()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Serve Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=broker", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7), RandomNumberGenerator.GetBytes(16));
        var certFile = Path.Combine(_directory, "broker.pem");
        var keyFile = Path.Combine(_directory, "broker.key");
        await File.WriteAllTextAsync(certFile, certificate.ExportCertificatePem(), Ct);
        await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem(), Ct);

        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off", "--tls-cert", certFile, "--tls-key", keyFile);
        Assert.Contains("; TLS;", await serve.WaitForErrAsync("security: "), StringComparison.Ordinal);
        var address = (await serve.WaitForOutAsync("listening: sbs://"))["listening: ".Length..];
        await using var client = await BusClient.ConnectAsync(address, new BusClientOptions { Tls = new BusTlsOptions { TrustedRoots = [ca] } }, Ct);
        Assert.True(client.IsConnected);

        var (code, _, err) = await CliProcess.RunAsync("serve", "--port", "0", "--tls-cert", certFile);
        Assert.Equal(2, code);
        Assert.Contains("--tls-cert and --tls-key go together", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hash_password_reads_stdin_and_prints_a_hash_that_verifies()
    {
        await using var process = CliProcess.StartWithInput("hash-password", "--iterations", "1000");
        await process.WriteLineAsync("tr0ub4dor&3");
        process.CloseInput();
        var hash = await process.ReadLineAsync();
        Assert.Equal(0, await process.WaitForExitAsync());
        Assert.StartsWith("pbkdf2-sha256$1000$", hash, StringComparison.Ordinal);
        Assert.True(PasswordHash.Verify(hash, "tr0ub4dor&3"));
    }

    private string WriteConfig(string json)
    {
        using var _ = JsonDocument.Parse(json); // the test's own file must be valid JSON
        var path = Path.Combine(_directory, "switchboard.json");
        File.WriteAllText(path, json);
        return path;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
