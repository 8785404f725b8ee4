using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;

namespace Switchboard.Server;

/// <summary>
/// Keeps an application's own HTTP addresses when the broker joins it. Kestrel binds either the addresses given in code
/// (listen options) or the application's URLs (<c>--urls</c>, <c>ASPNETCORE_URLS</c>, <c>http_ports</c>, or its default
/// <c>http://localhost:5000</c>), never both: the broker's listen options alone would silently take the application's
/// HTTP away. So the hosted broker listens on those URLs too, as Kestrel would have (Kestrel then logs that it
/// "overrides" them with the same addresses). Endpoints from the <c>Kestrel:Endpoints</c> section are kept by Kestrel
/// itself and left alone.
/// </summary>
internal static class AppAddresses
{
    /// <summary>Kestrel's own default when an application names no address.</summary>
    private const string KestrelDefault = "http://localhost:5000";

    public static void Listen(KestrelServerOptions kestrel, IConfiguration configuration)
    {
        foreach (var url in Urls(configuration))
        {
            var address = BindingAddress.Parse(url);
            Action<ListenOptions> https = address.Scheme == Uri.UriSchemeHttps ? listen => listen.UseHttps() : _ => { };
            var host = address.Host.Trim('[', ']');
            if (address.IsUnixPipe)
            {
                kestrel.ListenUnixSocket(address.UnixPipePath, https);
            }
            else if (host == "localhost")
            {
                kestrel.ListenLocalhost(address.Port, https);
            }
            else if (IPAddress.TryParse(host, out var ip))
            {
                kestrel.Listen(ip, address.Port, https);
            }
            else
            {
                kestrel.ListenAnyIP(address.Port, https); // '*', '+' and host names: Kestrel binds every interface for them
            }
        }
    }

    private static IEnumerable<string> Urls(IConfiguration configuration)
    {
        var urls = configuration[WebHostDefaults.ServerUrlsKey];
        if (!string.IsNullOrWhiteSpace(urls))
        {
            return urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        var ports = Ports(configuration, WebHostDefaults.HttpPortsKey, "http").Concat(Ports(configuration, WebHostDefaults.HttpsPortsKey, "https")).ToList();
        if (ports.Count > 0)
        {
            return ports;
        }

        return configuration.GetSection("Kestrel:Endpoints").GetChildren().Any() ? [] : [KestrelDefault];
    }

    private static IEnumerable<string> Ports(IConfiguration configuration, string key, string scheme) =>
        (configuration[key] ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(port => $"{scheme}://*:{port}");
}
