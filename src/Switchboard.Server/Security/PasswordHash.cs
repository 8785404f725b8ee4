using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Server.Security;

/// <summary>
/// Passwords as PBKDF2-HMAC-SHA256 hashes in one self-describing string,
/// <c>pbkdf2-sha256$ITERATIONS$SALT$HASH</c> (salt and hash in base64), so a configuration file never holds a password
/// and the cost can grow without breaking old hashes. <c>switchboard hash-password</c> makes one.
/// </summary>
public static class PasswordHash
{
    /// <summary>The iterations a new hash gets: OWASP's 2023 advice for PBKDF2-HMAC-SHA256.</summary>
    public const int DefaultIterations = 600_000;

    private const string Scheme = "pbkdf2-sha256";
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    /// <summary>Hashes <paramref name="password"/> with a fresh random salt.</summary>
    public static string Create(string password, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"{Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>True when <paramref name="password"/> is the one <paramref name="encoded"/> was made from (compared in
    /// fixed time). Throws <c>invalid_argument</c> when <paramref name="encoded"/> is not such a hash.</summary>
    public static bool Verify(string encoded, string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        var (iterations, salt, hash) = Parse(encoded);
        var candidate = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, hash.Length);
        return CryptographicOperations.FixedTimeEquals(candidate, hash);
    }

    /// <summary>Checks that <paramref name="encoded"/> is a hash this class can verify (a configuration error, said at
    /// start, not at the first login).</summary>
    internal static void Validate(string? encoded) => Parse(encoded);

    private static (int Iterations, byte[] Salt, byte[] Hash) Parse(string? encoded)
    {
        var parts = (encoded ?? string.Empty).Split('$');
        if (parts.Length != 4 || parts[0] != Scheme)
        {
            throw Invalid("it is not of the form pbkdf2-sha256$ITERATIONS$SALT$HASH (make one with `switchboard hash-password`)");
        }

        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations < 1)
        {
            throw Invalid($"its iteration count '{parts[1]}' is not a positive whole number");
        }

        try
        {
            var salt = Convert.FromBase64String(parts[2]);
            var hash = Convert.FromBase64String(parts[3]);
            return salt.Length < 8 || hash.Length < 16 ? throw Invalid("its salt or hash is too short (at least 8 and 16 bytes)") : (iterations, salt, hash);
        }
        catch (FormatException)
        {
            throw Invalid("its salt or hash is not base64");
        }
    }

    private static SwitchboardException Invalid(string problem) => new(ErrorCodes.InvalidArgument, $"The password hash is not usable: {problem}.");
}
