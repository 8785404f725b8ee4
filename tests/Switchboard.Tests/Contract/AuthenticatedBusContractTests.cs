using Switchboard.Server;
using Switchboard.Server.Security;

namespace Switchboard.Tests.Contract;

/// <summary>The contract suite over TCP with identities on: every client presents a token whose identity is allowed
/// everything by explicit allow rules, so every permission check of every operation runs, and must change nothing.</summary>
public sealed class AuthenticatedBusContractTests : RemoteBusContractTests
{
    private const string Token = "contract-suite-token-0123456789";

    private static readonly PermissionRule Everything = new() { Allow = [">"] };

    protected override BusClientOptions ClientOptions(string name) => new() { ClientName = name, Credentials = Token };

    protected override BrokerOptions BrokerOptions() => new()
    {
        Port = 0,
        Security = new SecurityOptions
        {
            Tokens =
            [
                new TokenIdentity
                {
                    Name = "everything",
                    Token = Token,
                    Permissions = new Permissions
                    {
                        Senders = new() { Allow = ["*"] },
                        Events = Everything,
                        Listen = new() { Allow = ["*/>"] },
                        Requests = new() { Allow = ["*/>"] },
                        Produce = Everything,
                        Gather = Everything,
                    },
                },
            ],
        },
    };

    protected override string Address(BrokerHost host) => host.TcpAddress!;
}

/// <summary>The contract suite over TLS (sbs://, a CA made at test time) with identities on: the fixture the issue asks
/// for, TLS and auth together.</summary>
public sealed class TlsBusContractTests : RemoteBusContractTests, IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sb-tls-contract-");
    private readonly Security.TestCa _ca = new("Contract CA");

    protected override BusClientOptions ClientOptions(string name) => new()
    {
        ClientName = name,
        Credentials = "tls-contract-token-0123456789",
        Tls = new BusTlsOptions { TrustedRoots = [_ca.Certificate] },
    };

    protected override BrokerOptions BrokerOptions() => new()
    {
        Port = 0,
        Security = new SecurityOptions
        {
            Tokens = [new TokenIdentity { Name = "everything", Token = "tls-contract-token-0123456789" }],
            Tls = _ca.WriteServerFiles(_directory.FullName, "broker"),
        },
    };

    protected override string Address(BrokerHost host) => host.TcpAddress!;

    public void Dispose()
    {
        _ca.Dispose();
        _directory.Delete(recursive: true);
        GC.SuppressFinalize(this);
    }
}
