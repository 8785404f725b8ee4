using System.Collections.Frozen;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Switchboard.Server.Security;

namespace Switchboard.Server.Http;

/// <summary>
/// What a web page may do with the broker, checked before any endpoint (<c>/ws</c>, SSE, the JSON calls, the dashboard):
/// <list type="bullet">
/// <item>the <c>Host</c> must be an IP address, <c>localhost</c> or an allowed name: a page of a site whose name was
/// rebound to this machine (DNS rebinding) names its own host, and is refused <c>forbidden_host</c>;</item>
/// <item>an <c>Origin</c>, when a browser sends one, must be the broker's own or an allowed one (answered with CORS
/// headers, preflights included); another site's page is refused <c>forbidden_origin</c>, WebSocket upgrades too;</item>
/// <item>a POST must declare <c>application/json</c> (<c>unsupported_media_type</c> otherwise), which a cross-site form
/// cannot send without a preflight.</item>
/// </list>
/// Clients that are not browsers send no <c>Origin</c> and use an IP address or an allowed name, so nothing changes for them.
/// </summary>
internal sealed class BrowserGuard
{
    private const string CorsMethods = "GET, POST, DELETE";
    private const string CorsHeaders = "Authorization, Content-Type, Last-Event-ID, X-Switchboard-Client";

    private volatile Rules _rules;

    public BrowserGuard(BrowserOptions options) => _rules = Rules.Compile(options);

    /// <summary>The rules of a reloaded configuration, from the next request on.</summary>
    public void Reload(BrowserOptions options) => _rules = Rules.Compile(options);

    /// <summary>The allowed hosts and origins, compiled (an invalid origin throws here, naming it).</summary>
    internal sealed record Rules(FrozenSet<string> Hosts, FrozenSet<string> Origins, bool AnyHost, bool AnyOrigin)
    {
        public static Rules Compile(BrowserOptions options)
        {
            ArgumentNullException.ThrowIfNull(options);
            var hosts = (options.AllowedHosts ?? []).Select(h => h.Trim().TrimEnd('.').ToLowerInvariant()).ToList();
            var origins = (options.AllowedOrigins ?? []).Select(NormalizeOrigin).ToList();
            return new Rules(hosts.ToFrozenSet(StringComparer.Ordinal), origins.ToFrozenSet(StringComparer.Ordinal), hosts.Contains("*"), origins.Contains("*"));
        }
    }

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (RefuseHost(request) is { } host)
        {
            await HttpJson.WriteErrorAsync(context, StatusCodes.Status403Forbidden, ErrorCodes.ForbiddenHost, host);
            return;
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && !IsSameOrigin(request, origin))
        {
            var rules = _rules;
            if (!rules.AnyOrigin && !rules.Origins.Contains(origin.ToLowerInvariant()))
            {
                await HttpJson.WriteErrorAsync(context, StatusCodes.Status403Forbidden, ErrorCodes.ForbiddenOrigin,
                    $"Pages of {origin} may not call this broker (only its own origin may, and those in Security.Browser.AllowedOrigins or --allowed-origin).");
                return;
            }

            context.Response.Headers.AccessControlAllowOrigin = origin;
            context.Response.Headers.Vary = HeaderNames.Origin;
            if (HttpMethods.IsOptions(request.Method) && request.Headers.AccessControlRequestMethod.Count > 0)
            {
                context.Response.Headers.AccessControlAllowMethods = CorsMethods;
                context.Response.Headers.AccessControlAllowHeaders = CorsHeaders;
                context.Response.Headers.AccessControlMaxAge = "600";
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }
        }

        if (HttpMethods.IsPost(request.Method) && !IsJson(request.ContentType))
        {
            await HttpJson.WriteErrorAsync(context, StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType,
                $"A POST body must be sent as Content-Type: application/json (this one is {(string.IsNullOrEmpty(request.ContentType) ? "undeclared" : request.ContentType)}); curl needs -H 'Content-Type: application/json'.");
            return;
        }

        await next(context);
    }

    private string? RefuseHost(HttpRequest request)
    {
        var host = request.Host.Host.Trim('[', ']').TrimEnd('.').ToLowerInvariant();
        var rules = _rules;
        if (rules.AnyHost || host.Length == 0 || IPAddress.TryParse(host, out _) || host == "localhost" || host.EndsWith(".localhost", StringComparison.Ordinal) || rules.Hosts.Contains(host))
        {
            return null;
        }

        return $"This broker does not answer to the host name '{host}' (a protection against DNS rebinding); use its IP address or localhost, or allow the name in Security.Browser.AllowedHosts or with --allowed-host.";
    }

    private static bool IsSameOrigin(HttpRequest request, string origin) =>
        string.Equals(origin, $"{request.Scheme}://{request.Host.Value}", StringComparison.OrdinalIgnoreCase);

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var type) && type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase);

    private static string NormalizeOrigin(string origin)
    {
        var trimmed = origin.Trim().TrimEnd('/').ToLowerInvariant();
        if (trimmed == "*")
        {
            return trimmed;
        }

        return Uri.TryCreate(trimmed, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/" && uri.Query.Length == 0
            ? trimmed
            : throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The allowed origin '{origin}' is not an origin: give SCHEME://HOST[:PORT], such as https://app.example.com, or '*'.");
    }
}
