using System.CommandLine;
using System.Net;
using Switchboard.Server.Security;

namespace Switchboard.Cli.Commands;

/// <summary>
/// <c>serve</c>'s security flags: <c>--config FILE</c> (identities, permissions, browser rules: the file's
/// <c>Security</c> section, docs/security.md), <c>--allow-anonymous</c>, <c>--allowed-origin</c>, <c>--allowed-host</c>,
/// <c>--tls-cert</c> and <c>--tls-key</c>;
/// and the safe default when exposed: a broker listening beyond loopback with no identities would give the whole bus
/// to anyone who can reach the machine, so <c>serve</c> refuses to start unless <c>--allow-anonymous</c> says that is
/// meant (as Mosquitto 2 and Redis's protected mode do).
/// </summary>
public sealed class ServeSecurity
{
    private readonly Option<string?> _config = new("--config")
    {
        Description = "A JSON file whose 'Security' section names the identities (tokens, users, JWT keys), their permissions and the browser rules (docs/security.md). Reloaded when it changes and on SIGHUP.",
        HelpName = "FILE",
    };

    private readonly Option<bool> _allowAnonymous = new("--allow-anonymous")
    {
        Description = "Admit clients without credentials (with the config's Security.Anonymous permissions, or every permission). Needed to listen beyond loopback without identities.",
    };

    private readonly Option<string[]> _allowedOrigins = new("--allowed-origin")
    {
        Description = "Another origin whose web pages may call the HTTP surface (https://app.example.com, or *); repeat for several. Default: the broker's own origin only.",
        HelpName = "ORIGIN",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private readonly Option<string[]> _allowedHosts = new("--allowed-host")
    {
        Description = "A host name the HTTP surface answers besides IP addresses and localhost (bus.example.com, or *); repeat for several.",
        HelpName = "NAME",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private readonly Option<string?> _tlsCert = new("--tls-cert")
    {
        Description = "TLS on the TCP endpoints (sbs://, https://, wss://) with this certificate (PEM); needs --tls-key. Re-read when the file changes.",
        HelpName = "FILE",
    };

    private readonly Option<string?> _tlsKey = new("--tls-key")
    {
        Description = "The private key (PEM) of --tls-cert.",
        HelpName = "FILE",
    };

    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Options.Add(_tlsCert);
        command.Options.Add(_tlsKey);
        command.Options.Add(_config);
        command.Options.Add(_allowAnonymous);
        command.Options.Add(_allowedOrigins);
        command.Options.Add(_allowedHosts);
    }

    /// <summary>The security settings the flags and the config file give; refuses a broker exposed beyond loopback with
    /// no identities unless <c>--allow-anonymous</c>.</summary>
    public SecurityOptions Read(ParseResult result, string host)
    {
        ArgumentNullException.ThrowIfNull(result);
        SecurityOptions options;
        var path = result.GetValue(_config);
        try
        {
            options = path is not null ? SecurityOptions.Load(path) : SecurityOptions.None;
        }
        catch (SwitchboardException ex)
        {
            throw new CliException(ExitCodes.Usage, $"--config: {ex.Message}");
        }

        ConfigFile = path is null ? null : Path.GetFullPath(path);
        Reread = path is null ? null : () => Apply(result, host, SecurityOptions.Load(path));
        return Apply(result, host, options);
    }

    /// <summary>The <c>--config</c> file, in full (null: none); <c>serve</c> watches it.</summary>
    public string? ConfigFile { get; private set; }

    /// <summary>Reads the <c>--config</c> file again with the same flags applied (null without one): what a reload
    /// gives the broker. Throws <see cref="SwitchboardException"/> or <see cref="CliException"/> naming the problem.</summary>
    public Func<SecurityOptions>? Reread { get; private set; }

    private SecurityOptions Apply(ParseResult result, string host, SecurityOptions options)
    {
        var allowAnonymous = result.GetValue(_allowAnonymous);
        if (allowAnonymous && options.HasIdentities && options.Anonymous is null)
        {
            options = options with { Anonymous = Permissions.All };
        }

        options = options with
        {
            Browser = options.Browser with
            {
                AllowedOrigins = [.. options.Browser.AllowedOrigins ?? [], .. result.GetValue(_allowedOrigins) ?? []],
                AllowedHosts = [.. options.Browser.AllowedHosts ?? [], .. result.GetValue(_allowedHosts) ?? []],
            },
        };
        var (certificate, key) = (result.GetValue(_tlsCert), result.GetValue(_tlsKey));
        if ((certificate is null) != (key is null))
        {
            throw new CliException(ExitCodes.Usage, "--tls-cert and --tls-key go together: give the certificate and its private key (PEM files).");
        }

        if (certificate is not null)
        {
            options = options with { Tls = (options.Tls ?? new TlsOptions()) with { CertificateFile = Path.GetFullPath(certificate), KeyFile = Path.GetFullPath(key!) } };
        }

        if (!IsLoopback(host) && !options.HasIdentities && !allowAnonymous)
        {
            throw new CliException(ExitCodes.Usage, $"--host {host} listens beyond this machine, and no identities are configured: anyone who reaches it would get the whole bus. Give --config FILE with identities (docs/security.md), or --allow-anonymous if that is really meant.");
        }

        return options;
    }

    /// <summary>True for the addresses only this machine reaches.</summary>
    public static bool IsLoopback(string host) => host == "localhost" || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
}
