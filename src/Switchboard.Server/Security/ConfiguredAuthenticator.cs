using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Server.Security;

/// <summary>
/// The authenticator built from <see cref="SecurityOptions"/>. Credentials are one string on every surface: a configured
/// token, <c>USER:PASSWORD</c>, or a signed JWT; none at all is the anonymous identity when one is configured. Tokens are
/// looked up by their SHA-256, so the lookup's timing says nothing about a guess; passwords are checked with PBKDF2 off
/// the connection's thread, and a password once verified is remembered as an HMAC under a key of this process, so HTTP
/// Basic calls do not pay PBKDF2 each time.
/// </summary>
internal sealed class ConfiguredAuthenticator : IAuthenticator
{
    private const string Formats = "send a configured token, USER:PASSWORD, or a signed JWT";

    private readonly FrozenDictionary<string, Identity> _tokens;
    private readonly FrozenDictionary<string, (string Hash, Identity Identity)> _users;
    private readonly ConcurrentDictionary<string, byte[]> _verified = new(StringComparer.Ordinal);
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly FrozenDictionary<string, Identity> _certificates;
    private readonly JwtValidator? _jwt;
    private readonly Identity? _anonymous;

    public ConfiguredAuthenticator(SecurityOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var tokens = (options.Tokens ?? []).Select((t, i) => CompileToken(t, i, names)).ToList();
        if (tokens.GroupBy(t => t.Key).FirstOrDefault(g => g.Count() > 1) is { } shared)
        {
            throw Invalid($"Security.Tokens: the identities {string.Join(" and ", shared.Select(t => $"'{t.Value.Name}'"))} have the same token; each needs its own.");
        }

        _tokens = tokens.ToFrozenDictionary(StringComparer.Ordinal);
        _users = (options.Users ?? []).Select((u, i) => CompileUser(u, i, names)).ToFrozenDictionary(StringComparer.Ordinal);
        _certificates = (options.Certificates ?? []).Select((c, i) => CompileCertificate(c, i, names)).ToFrozenDictionary(StringComparer.Ordinal);
        _jwt = options.Jwt is { } jwt ? new JwtValidator(jwt) : null;
        _anonymous = options.Anonymous is { } anonymous ? new Identity("anonymous", anonymous, kind: "anonymous") : null;
    }

    /// <summary>The identity configured here under <paramref name="kind"/> and <paramref name="name"/> (a token, user,
    /// certificate or the anonymous one), or null when there is none: a reload uses it to carry live connections over to
    /// the new configuration. JWT identities are not configured one by one, so they are never found.</summary>
    public Identity? Find(string kind, string name) => kind switch
    {
        "token" => _tokens.Values.FirstOrDefault(i => i.Name == name),
        "user" => _users.TryGetValue(name, out var user) ? user.Identity : null,
        "certificate" => _certificates.GetValueOrDefault(name),
        "anonymous" => _anonymous,
        _ => null,
    };

    /// <summary>The identity something admitted as <paramref name="current"/> has under this configuration: the same one
    /// for a JWT (its permissions are in its token), else the one configured under its kind and name, or null when that
    /// was removed.</summary>
    public Identity? Carry(Identity current) => current.Kind == "jwt" ? current : Find(current.Kind, current.Name);

    /// <summary>What this configuration makes of something admitted as <paramref name="current"/> that needs
    /// <paramref name="check"/> to pass: <see cref="Reloaded.Next"/>, the identity it goes on with, or the code and
    /// message it ends with (<c>identity_revoked</c>; <c>forbidden</c> naming the rule).</summary>
    /// <param name="current">Its identity until now.</param>
    /// <param name="check">What it holds, checked against an identity's rules (null: allowed).</param>
    /// <param name="holder">It, in the messages ("this connection", "this stream").</param>
    /// <param name="held">What the check covers, in the messages ("what this connection holds", "this stream").</param>
    public Reloaded Reconsider(Identity current, Func<Identity, SwitchboardException?> check, string holder, string held)
    {
        var next = Carry(current);
        if (next is null)
        {
            return new(null, ErrorCodes.IdentityRevoked, $"The identity {current} was removed from the broker's configuration; {holder} is closed.");
        }

        // A JWT's permissions are in its token: what it holds was checked against them already.
        return !ReferenceEquals(next, current) && check(next) is { } refused
            ? new(null, ErrorCodes.Forbidden, $"The broker's reloaded configuration refuses {held}, so it is closed: {refused.Message}")
            : new(next, null, null);
    }

    /// <summary>What is configured, in a few words (<c>serve</c> prints it).</summary>
    public string Describe() =>
        string.Join(", ", new[]
        {
            _tokens.Count > 0 ? $"{_tokens.Count} token(s)" : null,
            _users.Count > 0 ? $"{_users.Count} user(s)" : null,
            _jwt is not null ? $"JWTs ({_jwt.Describe()})" : null,
            _certificates.Count > 0 ? $"{_certificates.Count} client certificate(s)" : null,
            _anonymous is not null ? "anonymous clients with their own permissions" : "no anonymous clients",
        }.Where(s => s is not null));

    public async ValueTask<AuthResult> AuthenticateAsync(AuthRequest request, CancellationToken cancellationToken)
    {
        var credentials = request.Credentials;
        if (string.IsNullOrEmpty(credentials) && request.ClientCertificate is { } certificate)
        {
            // Kestrel checked the chain against the configured client authority; the subject's CN names the identity.
            var name = certificate.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, forIssuer: false);
            if (_certificates.TryGetValue(name, out var byCertificate))
            {
                return AuthResult.Accept(byCertificate);
            }

            if (_anonymous is null)
            {
                return AuthResult.Refuse($"The client certificate of '{name}' names no configured identity (Security.Certificates), and no other credentials were sent.");
            }
        }

        if (string.IsNullOrEmpty(credentials))
        {
            return _anonymous is { } anonymous ? AuthResult.Accept(anonymous) : AuthResult.Refuse($"This broker requires credentials: {Formats}.");
        }

        if (_tokens.TryGetValue(Digest(credentials), out var byToken))
        {
            return AuthResult.Accept(byToken);
        }

        if (_jwt is not null && JwtValidator.LooksLikeJwt(credentials))
        {
            return await _jwt.ValidateAsync(credentials);
        }

        var colon = credentials.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && _users.TryGetValue(credentials[..colon], out var user))
        {
            return await VerifyAsync(credentials[..colon], credentials[(colon + 1)..], user.Hash, user.Identity, cancellationToken);
        }

        return AuthResult.Refuse($"The credentials were refused: they are not a configured token, a known user's password or a valid JWT; {Formats}.");
    }

    private async ValueTask<AuthResult> VerifyAsync(string name, string password, string hash, Identity identity, CancellationToken cancellationToken)
    {
        var mac = HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes(name + "\0" + password));
        if (_verified.TryGetValue(name, out var known) && CryptographicOperations.FixedTimeEquals(known, mac))
        {
            return AuthResult.Accept(identity);
        }

        // PBKDF2 costs a few hundred milliseconds by design: never on a socket thread.
        var ok = await Task.Run(() => PasswordHash.Verify(hash, password), cancellationToken);
        if (!ok)
        {
            return AuthResult.Refuse($"The credentials were refused: unknown user or wrong password for '{name}'.");
        }

        _verified[name] = mac;
        return AuthResult.Accept(identity);
    }

    private static KeyValuePair<string, Identity> CompileToken(TokenIdentity token, int index, HashSet<string> names)
    {
        var where = $"Security.Tokens[{index}]";
        CheckName(token.Name, where, names);
        if (string.IsNullOrEmpty(token.Token) || token.Token.Length < 8)
        {
            throw Invalid($"{where} '{token.Name}': Token must be at least 8 characters (use a long random secret).");
        }

        return new(Digest(token.Token), Compile(token.Name, token.Permissions, "token", where));
    }

    private static KeyValuePair<string, (string, Identity)> CompileUser(UserIdentity user, int index, HashSet<string> names)
    {
        var where = $"Security.Users[{index}]";
        CheckName(user.Name, where, names);
        if (user.Name.Contains(':', StringComparison.Ordinal))
        {
            throw Invalid($"{where} '{user.Name}': a user name cannot hold ':' (clients send USER:PASSWORD).");
        }

        try
        {
            PasswordHash.Validate(user.Password);
        }
        catch (SwitchboardException ex)
        {
            throw Invalid($"{where} '{user.Name}': Password: {ex.Message}");
        }

        return new(user.Name, (user.Password, Compile(user.Name, user.Permissions, "user", where)));
    }

    private static KeyValuePair<string, Identity> CompileCertificate(CertificateIdentity certificate, int index, HashSet<string> names)
    {
        var where = $"Security.Certificates[{index}]";
        CheckName(certificate.Name, where, names);
        return new(certificate.Name, Compile(certificate.Name, certificate.Permissions, "certificate", where));
    }

    private static Identity Compile(string name, Permissions? permissions, string kind, string where)
    {
        try
        {
            return new Identity(name, permissions, kind: kind);
        }
        catch (SwitchboardException ex)
        {
            throw Invalid($"{where}: {ex.Message}");
        }
    }

    private static void CheckName(string? name, string where, HashSet<string> names)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw Invalid($"{where} has no Name; every identity needs one.");
        }

        if (!names.Add(name))
        {
            throw Invalid($"{where}: the name '{name}' is given to two identities; names must be unique.");
        }
    }

    private static string Digest(string secret) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static SwitchboardException Invalid(string message) => new(ErrorCodes.InvalidArgument, message);
}

/// <summary>The outcome of <see cref="ConfiguredAuthenticator.Reconsider"/>: go on as <see cref="Next"/>, or end with
/// <see cref="Code"/> and <see cref="Message"/>.</summary>
internal readonly record struct Reloaded(Identity? Next, string? Code, string? Message);
