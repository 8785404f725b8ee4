using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace Switchboard.Benchmarks;

public static class Program
{
    // BenchmarkDotNet builds a boilerplate project per run; its default 2 min build timeout is too short on a
    // loaded 2-core machine (seen: "The configured timeout 00:02:00 was reached!"), so allow 10 min.
    public static void Main(string[] args) =>
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly)
            .Run(args, ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(10)));
}
