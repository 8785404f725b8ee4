using System.Security.Cryptography;

namespace Switchboard.Server.Http;

/// <summary>A file of the dashboard, embedded in this assembly (no front-end build): its bytes, type and ETag.</summary>
internal sealed record StaticFile(byte[] Bytes, string ContentType, string ETag)
{
    private const string Prefix = "Switchboard.Server.Dashboard.";

    /// <summary>The dashboard's files by name (<c>index.html</c>, <c>dashboard.css</c>, <c>dashboard.js</c>).</summary>
    public static IReadOnlyDictionary<string, StaticFile> LoadDashboard()
    {
        var assembly = typeof(StaticFile).Assembly;
        var files = new Dictionary<string, StaticFile>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var name = resource[Prefix.Length..];
            var type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            files[name] = new StaticFile(bytes, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}\"");
        }

        return files;
    }
}
