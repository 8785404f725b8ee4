namespace Switchboard.Server.Security;

/// <summary>Who a connection or an HTTP call is, once its credentials passed: a name for logs and ownership, what it may
/// do, and when its credentials stop being valid (a JWT's expiry: a live connection is closed then).</summary>
public sealed class Identity
{
    /// <summary>An identity; its permissions are checked here, so a bad pattern fails now, naming it.</summary>
    /// <param name="name">The identity's name (a token's or user's name, a JWT's subject).</param>
    /// <param name="permissions">What it may do; null: everything.</param>
    /// <param name="expiresAt">When it stops being valid; null: never.</param>
    /// <param name="kind">How it was proven (<c>token</c>, <c>user</c>, <c>jwt</c>, <c>anonymous</c>), for logs.</param>
    public Identity(string name, Permissions? permissions = null, DateTimeOffset? expiresAt = null, string kind = "custom")
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Permissions = permissions ?? Permissions.All;
        ExpiresAt = expiresAt;
        Kind = kind;
        Rules = PermissionSet.Compile(Permissions, $"the permissions of '{name}'");
    }

    /// <summary>The identity's name.</summary>
    public string Name { get; }

    /// <summary>What it may do.</summary>
    public Permissions Permissions { get; }

    /// <summary>When it stops being valid (null: never).</summary>
    public DateTimeOffset? ExpiresAt { get; }

    /// <summary>How it was proven: <c>token</c>, <c>user</c>, <c>jwt</c>, <c>anonymous</c>, or what a custom authenticator says.</summary>
    public string Kind { get; }

    internal PermissionSet Rules { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Kind} '{Name}'";
}
