using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Switchboard.Server.Security;

/// <summary>Checks signed JWTs with <see cref="JsonWebTokenHandler"/> against <see cref="JwtOptions"/>: the signature
/// (only the algorithms of the configured keys: never <c>none</c>), the expiry (required), the issuer and audience when
/// configured; then reads the identity's name and permissions from their claims.</summary>
internal sealed class JwtValidator
{
    private static readonly string[] HmacAlgorithms = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.HmacSha384, SecurityAlgorithms.HmacSha512];
    private static readonly string[] RsaAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512];

    private readonly JsonWebTokenHandler _handler = new();
    private readonly TokenValidationParameters _parameters;
    private readonly JwtOptions _options;
    private readonly Permissions? _default;

    public JwtValidator(JwtOptions options)
    {
        _options = options;
        var keys = new List<SecurityKey>();
        var algorithms = new List<string>();
        if (options.HmacKey is { } hmac)
        {
            keys.Add(new SymmetricSecurityKey(DecodeHmacKey(hmac)));
            algorithms.AddRange(HmacAlgorithms);
        }

        if (ReadRsaPem(options) is { } pem)
        {
            var rsa = RSA.Create();
            try
            {
                rsa.ImportFromPem(pem);
            }
            catch (ArgumentException ex)
            {
                throw Invalid($"Security.Jwt: the RSA public key is not a PEM key: {ex.Message}");
            }

            keys.Add(new RsaSecurityKey(rsa));
            algorithms.AddRange(RsaAlgorithms);
        }

        if (keys.Count == 0)
        {
            throw Invalid("Security.Jwt names no key: give HmacKey (base64, at least 32 bytes), RsaPublicKey (PEM) or RsaPublicKeyFile.");
        }

        _default = options.DefaultPermissions;
        if (_default is not null)
        {
            _ = PermissionSet.Compile(_default, "Security.Jwt.DefaultPermissions");
        }

        _parameters = new TokenValidationParameters
        {
            IssuerSigningKeys = keys,
            ValidAlgorithms = algorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ValidateIssuerSigningKey = true,
            ValidateIssuer = options.Issuer is not null,
            ValidIssuer = options.Issuer,
            ValidateAudience = options.Audience is not null,
            ValidAudience = options.Audience,
            ClockSkew = options.ClockSkew,
        };
    }

    /// <summary>What is checked, in a few words.</summary>
    public string Describe() =>
        string.Join(", ", new[]
        {
            _options.HmacKey is not null ? "HMAC" : null,
            ReadRsaPem(_options) is not null ? "RSA" : null,
            _options.Issuer is { } issuer ? $"issuer {issuer}" : null,
            _options.Audience is { } audience ? $"audience {audience}" : null,
        }.Where(s => s is not null));

    /// <summary>Three base64url parts separated by dots (a JWS compact serialization).</summary>
    public static bool LooksLikeJwt(string credentials) => credentials.Count(c => c == '.') == 2 && !credentials.Contains(':', StringComparison.Ordinal);

    public async ValueTask<AuthResult> ValidateAsync(string token)
    {
        var result = await _handler.ValidateTokenAsync(token, _parameters);
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            return AuthResult.Refuse("The JWT was refused: " + Describe(result.Exception));
        }

        if (!jwt.TryGetPayloadValue<string>(_options.NameClaim, out var name) || string.IsNullOrEmpty(name))
        {
            return AuthResult.Refuse($"The JWT was refused: it has no '{_options.NameClaim}' claim naming its identity (Security.Jwt.NameClaim).");
        }

        Permissions? permissions;
        try
        {
            permissions = ReadPermissions(jwt) ?? _default;
            var expires = new DateTimeOffset(DateTime.SpecifyKind(jwt.ValidTo, DateTimeKind.Utc)) + _options.ClockSkew;
            return AuthResult.Accept(new Identity(name, permissions, expires, "jwt"));
        }
        catch (SwitchboardException ex)
        {
            return AuthResult.Refuse($"The JWT was refused: its '{_options.PermissionsClaim}' claim is not usable: {ex.Message}");
        }
    }

    private Permissions? ReadPermissions(JsonWebToken jwt)
    {
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(jwt.EncodedPayload));
        return payload.RootElement.TryGetProperty(_options.PermissionsClaim, out var claim) ? PermissionsJson.Read(claim) : null;
    }

    private static string Describe(Exception? ex) => ex switch
    {
        SecurityTokenExpiredException expired => $"it expired at {expired.Expires:u}.",
        SecurityTokenNoExpirationException => "it has no expiry ('exp'); tokens must expire.",
        SecurityTokenNotYetValidException early => $"it is not valid before {early.NotBefore:u}.",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "its signature does not verify with the configured key.",
        SecurityTokenInvalidAlgorithmException => "it is signed with an algorithm the configured keys do not use.",
        SecurityTokenInvalidIssuerException => "its issuer ('iss') is not the configured one.",
        SecurityTokenInvalidAudienceException => "its audience ('aud') is not the configured one.",
        SecurityTokenMalformedException => "it is not a well-formed JWT.",
        null => "it did not validate.",
        _ => ex.Message,
    };

    private static byte[] DecodeHmacKey(string base64)
    {
        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw Invalid("Security.Jwt.HmacKey is not base64 (make one with `openssl rand -base64 32`).");
        }

        return key.Length >= 32 ? key : throw Invalid($"Security.Jwt.HmacKey is {key.Length} bytes; HMAC keys must be at least 32 bytes.");
    }

    private static string? ReadRsaPem(JwtOptions options)
    {
        if (options.RsaPublicKey is { } inline)
        {
            return inline;
        }

        if (options.RsaPublicKeyFile is not { } file)
        {
            return null;
        }

        try
        {
            return File.ReadAllText(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Invalid($"Security.Jwt.RsaPublicKeyFile {file} cannot be read: {ex.Message}");
        }
    }

    private static SwitchboardException Invalid(string message) => new(ErrorCodes.InvalidArgument, message);
}
