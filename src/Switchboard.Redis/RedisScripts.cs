namespace Switchboard.Redis;

/// <summary>The Lua the cluster runs in Redis (7.0 has everything they need). All keys share the cluster's hash tag, so
/// on a Redis Cluster they live in one slot and a script may read a lease key it computes.</summary>
internal static class RedisScripts
{
    /// <summary>Claims a sender name for a member: free, already its own, or held by a member whose lease is gone
    /// (a dead node's names are claimable at once). Returns nil when claimed, else the member that holds it.
    /// KEYS[1] the name key; ARGV[1] the member; ARGV[2] the prefix of lease keys.</summary>
    public const string Claim = """
        local owner = redis.call('GET', KEYS[1])
        if owner and owner ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. owner) == 1 then
          return owner
        end
        redis.call('SET', KEYS[1], ARGV[1])
        return false
        """;

    /// <summary>Releases a name if the member still holds it. KEYS[1] the name key; ARGV[1] the member.</summary>
    public const string Release = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """;

    /// <summary>1 or 0 for each key: which leases are alive, in one round trip.</summary>
    public const string Exist = """
        local alive = {}
        for i, key in ipairs(KEYS) do
          alive[i] = redis.call('EXISTS', key)
        end
        return alive
        """;
}
