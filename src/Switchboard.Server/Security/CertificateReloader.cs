using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Switchboard.Server.Security;

/// <summary>The broker's TLS certificate from its PEM files, read again when either file changes (checked at most every
/// two seconds, at a handshake): a renewed certificate takes effect without a restart; a renewal that cannot be read
/// keeps the previous certificate (and the next check tries again).</summary>
internal sealed class CertificateReloader
{
    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(2);
    private readonly string _certificateFile;
    private readonly string _keyFile;
    private readonly Lock _lock = new();
    private X509Certificate2 _current;
    private (DateTime, DateTime) _stamps;
    private long _checkedAt;

    public CertificateReloader(TlsOptions options)
    {
        _certificateFile = options.CertificateFile;
        _keyFile = options.KeyFile;
        if (string.IsNullOrEmpty(_certificateFile) || string.IsNullOrEmpty(_keyFile))
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, "Security.Tls needs CertificateFile and KeyFile (PEM files).");
        }

        _stamps = Stamps();
        _current = Load();
        _checkedAt = Environment.TickCount64;
    }

    /// <summary>The certificate to present now.</summary>
    public X509Certificate2 Current
    {
        get
        {
            if (Environment.TickCount64 - Volatile.Read(ref _checkedAt) < CheckEvery.TotalMilliseconds)
            {
                return _current;
            }

            lock (_lock)
            {
                _checkedAt = Environment.TickCount64;
                try
                {
                    var stamps = Stamps();
                    if (stamps != _stamps)
                    {
                        _current = Load();
                        _stamps = stamps;
                    }
                }
                catch (SwitchboardException)
                {
                    // A renewal half written, or broken: keep serving the certificate that works.
                }

                return _current;
            }
        }
    }

    private (DateTime, DateTime) Stamps() => (File.GetLastWriteTimeUtc(_certificateFile), File.GetLastWriteTimeUtc(_keyFile));

    private X509Certificate2 Load()
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(_certificateFile, _keyFile);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Security.Tls: the certificate {_certificateFile} with the key {_keyFile} cannot be loaded: {ex.Message}");
        }
    }
}
