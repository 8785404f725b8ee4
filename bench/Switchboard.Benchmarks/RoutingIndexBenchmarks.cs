using BenchmarkDotNet.Attributes;
using Switchboard.Routing;

namespace Switchboard.Benchmarks;

/// <summary>
/// The routing index alone: a lookup must cost the same with 10 or 10 000 registrations and allocate nothing.
/// </summary>
/// <remarks>
/// <para>Registrations: <c>Patterns - 4</c> literal patterns <c>sensors.room{i}.temp</c> of the sender <c>hub</c>
/// (all under one trie node, the worst case for that node's child map), plus four wildcard ones:
/// <c>sensors.*.humidity</c> and <c>#alerts.*.fire</c> of <c>hub</c>, <c>#alerts.&gt;</c> of any sender, and
/// <c>sensors.&gt;</c> of another sender (it must not match <c>hub</c>'s events).</para>
/// <para>Baseline: one <see cref="Dictionary{TKey, TValue}"/> lookup by the same <c>(sender, event)</c> key, the
/// floor for any cached lookup.</para>
/// </remarks>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class RoutingIndexBenchmarks
{
    private const string Sender = "hub";
    private const string LiteralEvent = "sensors.room3.temp";
    private const string WildcardEvent = "#alerts.room3.fire";

    private readonly List<object> _into = new(16);
    private RoutingIndex<object> _index = null!;
    private Dictionary<(string, string), object[]> _plain = null!;
    private object _literalItem = null!;
    private object[] _wildcardItems = null!;

    [Params(10, 1_000, 10_000)]
    public int Patterns { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _index = new RoutingIndex<object>();
        _plain = [];
        for (var i = 0; i < Patterns - 4; i++)
        {
            var item = new object();
            var pattern = $"sensors.room{i}.temp";
            _index.Add(Sender, pattern, item);
            _plain[(Sender, pattern)] = [item];
            if (pattern == LiteralEvent)
            {
                _literalItem = item;
            }
        }

        var humidity = new object();
        var fire = new object();
        var anyAlerts = new object();
        _index.Add(Sender, "sensors.*.humidity", humidity);
        _index.Add(Sender, "#alerts.*.fire", fire);
        _index.Add(null, "#alerts.>", anyAlerts);
        var otherSensors = new object();
        _index.Add("other", "sensors.>", otherSensors);
        _wildcardItems = [fire, anyAlerts];

        // Correctness: each measured path must find exactly what it should, or there is nothing to measure.
        Expect(_index.Lookup(Sender, LiteralEvent), [_literalItem], "cached literal lookup");
        Expect(_index.Lookup(Sender, LiteralEvent), [_literalItem], "cached literal lookup (second, from cache)");
        Expect(_index.Lookup(Sender, WildcardEvent), _wildcardItems, "cached wildcard lookup");
        Expect(_index.Lookup(Sender, "sensors.room3.humidity"), [humidity], "wildcard targeted lookup");
        Expect(_index.Lookup("other", LiteralEvent), [otherSensors], "lookup for another sender (its own sensors.>)");
        Expect(_index.Lookup("nobody", LiteralEvent), [], "lookup for a sender with no registrations");
        _into.Clear();
        _index.MatchInto(Sender, LiteralEvent, _into);
        Expect([.. _into], [_literalItem], "uncached literal walk");
        _into.Clear();
        _index.MatchInto(Sender, WildcardEvent, _into);
        Expect([.. _into], _wildcardItems, "uncached wildcard walk");
        if (!ReferenceEquals(_index.Lookup(Sender, LiteralEvent), _index.Lookup(Sender, LiteralEvent)))
        {
            throw new InvalidOperationException("Lookup did not serve the cached array: the cached path is not what would be measured.");
        }
    }

    [Benchmark(Baseline = true, Description = "Dictionary<(sender, event)> lookup")]
    public object[] PlainDictionary() => _plain[(Sender, LiteralEvent)];

    [Benchmark(Description = "Lookup, literal event (cached)")]
    public object[] LookupLiteral() => _index.Lookup(Sender, LiteralEvent);

    [Benchmark(Description = "Lookup, wildcard-matched event (cached)")]
    public object[] LookupWildcard() => _index.Lookup(Sender, WildcardEvent);

    [Benchmark(Description = "MatchInto, literal event (trie walk)")]
    public int MatchLiteral()
    {
        _into.Clear();
        _index.MatchInto(Sender, LiteralEvent, _into);
        return _into.Count;
    }

    [Benchmark(Description = "MatchInto, wildcard-matched event (trie walk)")]
    public int MatchWildcard()
    {
        _into.Clear();
        _index.MatchInto(Sender, WildcardEvent, _into);
        return _into.Count;
    }

    private static void Expect(object[] actual, object[] expected, string what)
    {
        if (actual.Length != expected.Length || expected.Any(e => !actual.Contains(e)))
        {
            throw new InvalidOperationException($"{what}: found {actual.Length} registrations, expected {expected.Length}; the measured path does not route correctly.");
        }
    }
}
