using Switchboard.Redis;

namespace Switchboard.Tests.Cluster;

/// <summary><see cref="ClusterOptions"/>: addresses read from redis:// URLs, and every bad value refused naming its setting.</summary>
public sealed class ClusterOptionsTests
{
    [Theory]
    [InlineData("redis://127.0.0.1:6379", "127.0.0.1:6379")]
    [InlineData("redis://10.0.0.1:7000,10.0.0.2:7001/", "10.0.0.1:7000,10.0.0.2:7001")]
    [InlineData("redis://:secret@host:6379", "host:6379,password=secret")]
    [InlineData("rediss://app:p%40ss@host:6380", "host:6380,user=app,password=p@ss,ssl=true")]
    public void A_redis_url_becomes_a_configuration_string(string url, string expected) =>
        Assert.Equal(expected, ClusterOptions.FromUrl(url));

    [Theory]
    [InlineData("http://host:6379")]
    [InlineData("redis://host")]
    [InlineData("redis://host:0")]
    [InlineData("redis://")]
    public void A_bad_url_is_refused(string url)
    {
        var error = Assert.Throws<SwitchboardException>(() => ClusterOptions.FromUrl(url));
        Assert.Equal(ErrorCodes.InvalidArgument, error.Code);
        Assert.Contains(url, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_value_is_refused_naming_its_setting()
    {
        var good = new ClusterOptions();
        good.Validate();
        foreach (var (bad, setting) in new (ClusterOptions, string)[]
        {
            (good with { Redis = " " }, "Redis"),
            (good with { Name = "a b" }, "Name"),
            (good with { NodeId = "" }, "NodeId"),
            (good with { HeartbeatInterval = TimeSpan.FromMilliseconds(10) }, "HeartbeatInterval"),
            (good with { LeasePeriod = TimeSpan.FromSeconds(1) }, "LeasePeriod"),
            (good with { MaxBatchBytes = 10 }, "MaxBatchBytes"),
            (good with { MaxBatchDelay = TimeSpan.FromSeconds(2) }, "MaxBatchDelay"),
            (good with { MaxPendingBytes = 2000 }, "MaxPendingBytes"),
            (good with { AnnounceTimeout = TimeSpan.Zero }, "AnnounceTimeout"),
        })
        {
            var error = Assert.Throws<SwitchboardException>(bad.Validate);
            Assert.Equal(ErrorCodes.InvalidArgument, error.Code);
            Assert.StartsWith("ClusterOptions." + setting + " ", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Each_node_gets_its_own_random_id() => Assert.NotEqual(new ClusterOptions().NodeId, new ClusterOptions().NodeId);
}
