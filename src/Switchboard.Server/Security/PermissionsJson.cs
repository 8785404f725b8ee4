using System.Text.Json;

namespace Switchboard.Server.Security;

/// <summary>Reads <see cref="Permissions"/> from JSON (a JWT's claim): <c>{"listen":{"allow":["*/#public.&gt;"],"deny":[...]},...}</c>,
/// names in any case; anything else is refused, naming it.</summary>
internal static class PermissionsJson
{
    public static Permissions Read(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"it must be a JSON object such as {{\"listen\":{{\"allow\":[\"*/>\"]}}}}, not {json.ValueKind}");
        }

        var permissions = new Permissions();
        foreach (var kind in json.EnumerateObject())
        {
            var rule = ReadRule(kind);
            permissions = kind.Name.ToLowerInvariant() switch
            {
                "senders" => permissions with { Senders = rule },
                "events" => permissions with { Events = rule },
                "listen" => permissions with { Listen = rule },
                "requests" => permissions with { Requests = rule },
                "produce" => permissions with { Produce = rule },
                "gather" => permissions with { Gather = rule },
                _ => throw Invalid($"'{kind.Name}' is not a kind of permission (senders, events, listen, requests, produce, gather)"),
            };
        }

        return permissions;
    }

    private static PermissionRule ReadRule(JsonProperty kind)
    {
        if (kind.Value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"'{kind.Name}' must be an object with \"allow\" and/or \"deny\" lists");
        }

        var rule = new PermissionRule();
        foreach (var list in kind.Value.EnumerateObject())
        {
            var patterns = ReadStrings(kind.Name, list);
            rule = list.Name.ToLowerInvariant() switch
            {
                "allow" => rule with { Allow = patterns },
                "deny" => rule with { Deny = patterns },
                _ => throw Invalid($"'{kind.Name}.{list.Name}' is neither \"allow\" nor \"deny\""),
            };
        }

        return rule;
    }

    private static string[] ReadStrings(string kind, JsonProperty list)
    {
        if (list.Value.ValueKind != JsonValueKind.Array || list.Value.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
        {
            throw Invalid($"'{kind}.{list.Name}' must be an array of strings");
        }

        return [.. list.Value.EnumerateArray().Select(e => e.GetString()!)];
    }

    private static SwitchboardException Invalid(string problem) => new(ErrorCodes.InvalidArgument, problem);
}
