using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Switchboard.Server;
using Switchboard.Server.Security;

namespace Switchboard.Tests.Security;

/// <summary>What the security tests share: a broker configured with one identity of each kind, JWTs signed by hand
/// (HS256 and RS256, so the broker's library is checked against the standard, not against itself), and cheap PBKDF2
/// hashes (the cost is in the string; production hashes use 600 000 iterations).</summary>
internal static class SecurityKit
{
    public const string AdminToken = "admin-token-0123456789";
    public const string ReaderToken = "reader-token-0123456789";
    public const string UserPassword = "correct horse battery staple";

    /// <summary>The HMAC key JWTs are signed with (32 bytes).</summary>
    public static readonly byte[] HmacKey = SHA256.HashData("switchboard test key"u8);

    /// <summary>The RSA key pair JWTs may be signed with (the broker gets the public half).</summary>
    public static readonly RSA Rsa = RSA.Create(2048);

    /// <summary>A reader may listen to channel events and to timer, ask timer for get_ticks, and nothing else.</summary>
    public static readonly Permissions Reader = new()
    {
        Senders = new() { Deny = [">"] },
        Listen = new() { Allow = ["*/#public.>", "timer/>"], Deny = ["timer/secret"] },
        Requests = new() { Allow = ["timer/get_ticks"] },
        Produce = new() { Deny = [">"] },
        Gather = new() { Allow = ["prices.*"] },
    };

    /// <summary>Every kind of identity: an unrestricted admin token, a reader token, a user (alice, reader rights but
    /// may register 'alice-*'-less senders named alice), and JWTs signed with the HMAC key or the RSA key.</summary>
    public static SecurityOptions Options(TimeSpan? clockSkew = null, Permissions? anonymous = null) => new()
    {
        Tokens =
        [
            new TokenIdentity { Name = "admin", Token = AdminToken },
            new TokenIdentity { Name = "reader", Token = ReaderToken, Permissions = Reader },
        ],
        Users =
        [
            new UserIdentity
            {
                Name = "alice",
                Password = PasswordHash.Create(UserPassword, iterations: 1000),
                Permissions = new Permissions { Senders = new() { Allow = ["alice"] }, Events = new() { Allow = ["alice.>", "#public.>"] } },
            },
        ],
        Jwt = new JwtOptions
        {
            HmacKey = Convert.ToBase64String(HmacKey),
            RsaPublicKey = Rsa.ExportSubjectPublicKeyInfoPem(),
            Issuer = "https://app.example",
            ClockSkew = clockSkew ?? TimeSpan.Zero,
        },
        Anonymous = anonymous,
    };

    public static BrokerOptions Broker(SecurityOptions? security = null) => new()
    {
        Port = 0,
        JsonLinesPort = 0,
        HttpPort = 0,
        Security = security ?? Options(),
        HeartbeatInterval = TimeSpan.FromMilliseconds(200),
        HeartbeatMisses = 50,
    };

    /// <summary>A JWT for <paramref name="subject"/>, valid for <paramref name="lifetime"/>, signed HS256 (or RS256),
    /// with <paramref name="permissions"/> (JSON) in the <c>switchboard</c> claim when given.</summary>
    public static string Jwt(string subject, TimeSpan lifetime, string? permissions = null, bool rsa = false, string issuer = "https://app.example", byte[]? key = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new JsonObject
        {
            ["sub"] = subject,
            ["iss"] = issuer,
            ["iat"] = now,
            ["exp"] = now + (long)Math.Ceiling(lifetime.TotalSeconds),
        };
        if (permissions is not null)
        {
            payload["switchboard"] = JsonNode.Parse(permissions);
        }

        var header = rsa ? """{"alg":"RS256","typ":"JWT"}""" : """{"alg":"HS256","typ":"JWT"}""";
        var signed = $"{Base64Url(Encoding.UTF8.GetBytes(header))}.{Base64Url(Encoding.UTF8.GetBytes(payload.ToJsonString()))}";
        var bytes = Encoding.ASCII.GetBytes(signed);
        var signature = rsa ? Rsa.SignData(bytes, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1) : HMACSHA256.HashData(key ?? HmacKey, bytes);
        return $"{signed}.{Base64Url(signature)}";
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static BusClientOptions Client(string name, string? credentials) => new() { ClientName = name, Credentials = credentials };
}
