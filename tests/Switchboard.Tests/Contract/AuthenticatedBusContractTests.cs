using Switchboard.Server;
using Switchboard.Server.Security;

namespace Switchboard.Tests.Contract;

/// <summary>The contract suite over TCP with identities on: every client presents a token whose identity is allowed
/// everything by explicit allow rules, so every permission check of every operation runs, and must change nothing.</summary>
public sealed class AuthenticatedBusContractTests : RemoteBusContractTests
{
    private const string Token = "contract-suite-token-0123456789";

    private static readonly PermissionRule Everything = new() { Allow = [">"] };

    protected override string? Credentials => Token;

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
