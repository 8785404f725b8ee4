using Microsoft.Extensions.Configuration;

namespace Switchboard.Server.Security;

/// <summary>
/// Who may connect and what browsers may do: the identities (tokens, users with hashed passwords, signed JWTs), whether
/// clients without credentials get in (and with what permissions), how failures slow an address down, and the browser
/// rules of the HTTP surface. Plain records, bindable from <see cref="IConfiguration"/> (<see cref="FromConfiguration"/>)
/// or a JSON file (<see cref="Load"/>, what <c>switchboard serve --config</c> reads). See docs/security.md.
/// </summary>
public sealed record SecurityOptions
{
    /// <summary>No identities: every client is admitted with every permission (the default, as on a loopback-only broker).</summary>
    public static SecurityOptions None { get; } = new();

    /// <summary>Bearer tokens, each an identity.</summary>
    public IReadOnlyList<TokenIdentity>? Tokens { get; init; }

    /// <summary>Users with PBKDF2-hashed passwords (<see cref="PasswordHash"/>); clients send <c>USER:PASSWORD</c>.</summary>
    public IReadOnlyList<UserIdentity>? Users { get; init; }

    /// <summary>Client certificates (mutual TLS, <see cref="TlsOptions.ClientCertificates"/>) that prove an identity:
    /// a client that presents one whose subject's common name is listed, and no other credentials, is that identity.</summary>
    public IReadOnlyList<CertificateIdentity>? Certificates { get; init; }

    /// <summary>TLS on the TCP endpoints (<c>sbs://</c>, <c>https://</c>, <c>wss://</c>); null: plain TCP.</summary>
    public TlsOptions? Tls { get; init; }

    /// <summary>Signed JWTs an application server hands out; null: none accepted.</summary>
    public JwtOptions? Jwt { get; init; }

    /// <summary>When set, a client with no credentials is admitted as the identity <c>anonymous</c> with these
    /// permissions; null: with identities configured, such a client is refused.</summary>
    public Permissions? Anonymous { get; init; }

    /// <summary>How many refused credentials one address may have in a burst before it is slowed down to one try per
    /// <see cref="AuthFailureRefill"/> (an address that is slowed down is refused without its credentials being checked).</summary>
    public int AuthFailureBurst { get; init; } = 10;

    /// <summary>How often a slowed-down address gets one more try.</summary>
    public TimeSpan AuthFailureRefill { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Which pages and host names the HTTP surface answers.</summary>
    public BrowserOptions Browser { get; init; } = new();

    /// <summary>True when any identity is configured (so credentials are checked).</summary>
    public bool HasIdentities => Tokens is { Count: > 0 } || Users is { Count: > 0 } || Jwt is not null || Certificates is { Count: > 0 };

    /// <summary>Binds a configuration section (for example <c>configuration.GetSection("Switchboard:Security")</c>).</summary>
    public static SecurityOptions FromConfiguration(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        try
        {
            return section.Get<SecurityOptions>() ?? None;
        }
        catch (InvalidOperationException ex)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The security settings do not bind: {ex.Message}");
        }
    }

    /// <summary>Reads the <c>Security</c> section of a JSON file (<c>{"Security":{"Tokens":[...]}}</c>).</summary>
    public static SecurityOptions Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The configuration file {full} does not exist.");
        }

        IConfigurationRoot configuration;
        try
        {
            configuration = new ConfigurationBuilder().AddJsonFile(full, optional: false, reloadOnChange: false).Build();
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The configuration file {full} is not valid JSON: {(ex.InnerException ?? ex).Message}");
        }

        return FromConfiguration(configuration.GetSection("Security"));
    }
}

/// <summary>A bearer token and the identity it proves.</summary>
public sealed record TokenIdentity
{
    /// <summary>The identity's name (logs, ownership of HTTP senders).</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>The secret itself: long and random (<c>openssl rand -base64 32</c>).</summary>
    public string Token { get; init; } = string.Empty;

    /// <summary>What it may do; null: everything.</summary>
    public Permissions? Permissions { get; init; }
}

/// <summary>A user name, its password's hash and what it may do.</summary>
public sealed record UserIdentity
{
    /// <summary>The user name (no <c>:</c>).</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>The password's hash, <c>pbkdf2-sha256$ITERATIONS$SALT$HASH</c> (<c>switchboard hash-password</c>).</summary>
    public string Password { get; init; } = string.Empty;

    /// <summary>What it may do; null: everything.</summary>
    public Permissions? Permissions { get; init; }
}

/// <summary>
/// How signed JWTs are checked (through Microsoft.IdentityModel.JsonWebTokens): the key(s) that sign them, the issuer and
/// audience they must name, the claim that names the identity and the one that carries its permissions (a JSON object
/// shaped like <see cref="Permissions"/>, such as <c>{"listen":{"allow":["*/#public.&gt;"]}}</c>). A token must be signed
/// and must expire; a connection admitted with it is closed when it does.
/// </summary>
public sealed record JwtOptions
{
    /// <summary>The HMAC key (HS256/384/512), in base64: at least 32 bytes.</summary>
    public string? HmacKey { get; init; }

    /// <summary>An RSA public key (RS256..., PS256...) in PEM, given inline.</summary>
    public string? RsaPublicKey { get; init; }

    /// <summary>A file holding an RSA public key in PEM.</summary>
    public string? RsaPublicKeyFile { get; init; }

    /// <summary>The issuer (<c>iss</c>) tokens must name; null: not checked.</summary>
    public string? Issuer { get; init; }

    /// <summary>The audience (<c>aud</c>) tokens must name; null: not checked.</summary>
    public string? Audience { get; init; }

    /// <summary>The claim naming the identity.</summary>
    public string NameClaim { get; init; } = "sub";

    /// <summary>The claim carrying the permissions.</summary>
    public string PermissionsClaim { get; init; } = "switchboard";

    /// <summary>The permissions of a token without that claim; null: everything.</summary>
    public Permissions? DefaultPermissions { get; init; }

    /// <summary>How far clocks may disagree: a token is accepted this long after its expiry (and before its start).</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// What browsers may do with the HTTP surface (<c>/ws</c>, SSE, the JSON endpoints, the dashboard). By default only pages
/// of the broker's own origin may call it (a request with an <c>Origin</c> of another site is refused), only host names
/// that cannot be rebound to it are answered (IP addresses, <c>localhost</c>), and state-changing calls must be
/// <c>application/json</c> (which a cross-site form cannot send).
/// </summary>
public sealed record BrowserOptions
{
    /// <summary>Other origins whose pages may call the broker (<c>https://app.example.com</c>), answered with CORS headers;
    /// <c>*</c>: any.</summary>
    public IReadOnlyList<string>? AllowedOrigins { get; init; }

    /// <summary>Host names the broker answers besides IP addresses and <c>localhost</c> (<c>bus.example.com</c>); <c>*</c>: any.</summary>
    public IReadOnlyList<string>? AllowedHosts { get; init; }
}
