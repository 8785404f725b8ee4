using System.Collections.Concurrent;
using Switchboard.Routing;

namespace Switchboard.Tests.Routing;

/// <summary>Example tests of <see cref="RoutingIndex{T}"/>: scale, pruning, the lookup cache and concurrent use.</summary>
public sealed class RoutingIndexTests
{
    private static RouteItem Add(RoutingIndex<object> index, string? sender, string? pattern)
    {
        var item = RoutingGen.NewItem(sender, pattern);
        index.Add(sender, pattern, item);
        return item;
    }

    private static void Remove(RoutingIndex<object> index, RouteItem item) =>
        Assert.True(index.Remove(item.Sender, item.Pattern, item), $"Remove({item}) returned false.");

    private static void AssertMatch(RoutingIndex<object> index, string sender, string eventName, params RouteItem[] expected)
    {
        NaiveRouting.AssertSameItems(expected, index.Match(sender, eventName), $"Match({sender}, {eventName})");
        NaiveRouting.AssertSameItems(expected, index.Lookup(sender, eventName), $"Lookup({sender}, {eventName})");
    }

    [Fact]
    public void Ten_thousand_unrelated_registrations_do_not_leak_into_a_match()
    {
        var index = new RoutingIndex<object>();
        var others = new RouteItem[10_000];
        for (var i = 0; i < others.Length; i++)
        {
            // Other senders, literal patterns, some on the very events s1 triggers below.
            var pattern = (i % 3) switch
            {
                0 => $"k{i}.v",
                1 => "k42.v",
                _ => "#k42",
            };
            others[i] = Add(index, $"other{i % 100}", pattern);
        }

        var literal = Add(index, "s1", "k42.v");
        var star = Add(index, "s1", "*.v");
        var tail = Add(index, "s1", "k42.>");
        var anySenderChannel = Add(index, null, "#k42");
        var ownChannel = Add(index, "s1", "#k42");
        var everything = Add(index, "s1", null);

        Assert.Equal(10_006, index.Count);
        AssertMatch(index, "s1", "k42.v", literal, star, tail, everything);
        AssertMatch(index, "s1", "#k42", anySenderChannel, ownChannel, everything);
        AssertMatch(index, "s1", "k43.v", star, everything);
        AssertMatch(index, "nobody", "k42.v");
        AssertMatch(index, "nobody", "#k42", anySenderChannel);

        // Each other sender gets its own registrations only.
        AssertMatch(index, "other0", "k0.v", others[0]);
        AssertMatch(index, "other7", "#k42", [.. others.Where(o => o.Sender == "other7" && o.Pattern == "#k42").Append(anySenderChannel)]);
        AssertMatch(index, "other7", "k42.v", [.. others.Where(o => o.Sender == "other7" && o.Pattern == "k42.v")]);
        AssertMatch(index, "other99", "k9999.v", others[9999]);
        AssertMatch(index, "other98", "k9999.v");
    }

    [Fact]
    public void Adding_and_removing_a_thousand_unique_patterns_leaves_nothing_behind()
    {
        var index = new RoutingIndex<object>();
        var bystander = Add(index, "s2", "p1.x");
        var items = new List<RouteItem>();
        for (var i = 0; i < 1_000; i++)
        {
            var (sender, pattern) = (i % 6) switch
            {
                0 => ("s1", $"p{i}.x"),
                1 => ("s1", $"p{i}.*.y"),
                2 => ("s1", $"#p{i}.>"),
                3 => ("s1", $"*.p{i}"),
                4 => ((string?)null, $"#q{i}.*"),
                _ => ("s1", $"p{i}.>"),
            };
            items.Add(Add(index, sender, pattern));
        }

        Assert.Equal(1_001, index.Count);
        AssertMatch(index, "s1", "p0.x", items[0]);
        AssertMatch(index, "s1", "#q4.z", items[4]);

        foreach (var item in items)
        {
            Remove(index, item);
        }

        Assert.Equal(1, index.Count);
        AssertMatch(index, "s1", "p0.x");
        AssertMatch(index, "s1", "p1.z.y");
        AssertMatch(index, "s1", "#p2.z");
        AssertMatch(index, "s1", "z.p3");
        AssertMatch(index, "s1", "#q4.z");
        AssertMatch(index, "s1", "p5.z.z");
        AssertMatch(index, "s2", "p1.x", bystander);
        foreach (var item in items)
        {
            Assert.False(index.Remove(item.Sender, item.Pattern, item), $"Second Remove({item}) returned true.");
        }

        // The pruned tries still take new registrations on the same paths.
        var again = Add(index, "s1", "p1.*.y");
        AssertMatch(index, "s1", "p1.z.y", again);
        Remove(index, again);
        Remove(index, bystander);
        Assert.Equal(0, index.Count);
        AssertMatch(index, "s2", "p1.x");
    }

    [Fact]
    public void Pruning_a_branch_keeps_its_siblings()
    {
        var index = new RoutingIndex<object>();
        var ab = Add(index, "s1", "a.b");
        var ac = Add(index, "s1", "a.c");
        var aStar = Add(index, "s1", "a.*");
        var aTail = Add(index, "s1", "a.>");
        var deep = Add(index, "s1", "a.b.c");

        Remove(index, ab);
        AssertMatch(index, "s1", "a.b", aStar, aTail);
        AssertMatch(index, "s1", "a.c", ac, aStar, aTail);
        AssertMatch(index, "s1", "a.b.c", aTail, deep);

        Remove(index, deep);
        AssertMatch(index, "s1", "a.b.c", aTail);

        Remove(index, aStar);
        AssertMatch(index, "s1", "a.b", aTail);
        AssertMatch(index, "s1", "a.c", ac, aTail);

        Remove(index, aTail);
        AssertMatch(index, "s1", "a.c", ac);
        AssertMatch(index, "s1", "a.b");

        // Wrong item, wrong pattern, wrong sender: nothing is removed.
        Assert.False(index.Remove("s1", "a.c", ab));
        Assert.False(index.Remove("s1", "a.b", ac));
        Assert.False(index.Remove("s2", "a.c", ac));
        Assert.False(index.Remove("s1", "#a.c", ac));
        Assert.False(index.Remove("s1", null, ac));
        Assert.Equal(1, index.Count);
        AssertMatch(index, "s1", "a.c", ac);

        Remove(index, ac);
        Assert.Equal(0, index.Count);
        AssertMatch(index, "s1", "a.c");
    }

    [Fact]
    public void The_same_item_under_one_key_twice_is_matched_twice_and_removed_once_at_a_time()
    {
        var index = new RoutingIndex<object>();
        var item = RoutingGen.NewItem("s1", "#a.*");
        index.Add("s1", "#a.*", item);
        index.Add("s1", "#a.*", item);
        AssertMatch(index, "s1", "#a.b", item, item);

        Assert.True(index.Remove("s1", "#a.*", item));
        AssertMatch(index, "s1", "#a.b", item);
        Assert.True(index.Remove("s1", "#a.*", item));
        AssertMatch(index, "s1", "#a.b");
        Assert.False(index.Remove("s1", "#a.*", item));
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public void Lookup_serves_the_cached_result_until_a_change_and_then_a_fresh_one()
    {
        var index = new RoutingIndex<object>();
        var first = Add(index, "s1", "a.*");
        var cached = index.Lookup("s1", "a.b");
        Assert.Same(cached, index.Lookup("s1", "a.b"));

        var second = Add(index, null, null);
        AssertMatch(index, "s1", "a.b", first, second);
        Remove(index, first);
        AssertMatch(index, "s1", "a.b", second);
        Remove(index, second);
        AssertMatch(index, "s1", "a.b");
    }

    [Fact]
    public void More_distinct_lookups_than_the_cache_bound_keep_giving_right_answers()
    {
        var index = new RoutingIndex<object>();
        var targeted = Add(index, "s1", "e.*");
        var channel = Add(index, null, "#e.>");
        const int Lookups = RoutingIndex<object>.MaxCachedLookups + 1_000;
        for (var i = 0; i < Lookups; i++)
        {
            var eventName = i % 2 == 0 ? $"e.t{i}" : $"#e.t{i}";
            var result = index.Lookup("s1", eventName);
            var expected = i % 2 == 0 ? targeted : channel;
            if (result.Length != 1 || !ReferenceEquals(result[0], expected))
            {
                Assert.Fail($"Lookup #{i} (s1, {eventName}) gave [{string.Join(", ", result)}], expected [{expected}].");
            }
        }

        // Early keys (evicted when the cache started over) and late keys (maybe still cached) both follow a change.
        var late = Add(index, "s1", "e.>");
        AssertMatch(index, "s1", "e.t0", targeted, late);
        AssertMatch(index, "s1", $"e.t{Lookups - 2}", targeted, late);
        AssertMatch(index, "s1", $"#e.t{Lookups - 1}", channel);
        Remove(index, targeted);
        AssertMatch(index, "s1", "e.t0", late);
        AssertMatch(index, "s1", $"e.t{Lookups - 2}", late);
    }

    [Fact]
    public async Task Concurrent_writers_and_readers_see_only_registered_items_and_every_round_ends_exact()
    {
        // 4 writers add and remove while 4 readers look up, in rounds. Between rounds everyone stops at a barrier
        // and the state is checked exactly (Lookup, served from the cache where it can, and Match): a result cached
        // during a change must not outlive it. Bounded by counts, never by time.
        const int Writers = 4;
        const int Readers = 4;
        const int Rounds = 100;
        const int WriterOpsPerRound = 200;
        const int MinReadsPerRound = 50;
        const int MaxReadsPerRound = 200_000;
        var ct = TestContext.Current.CancellationToken;

        string[] senders = ["s1", "s2", "s3", "nobody"];
        string[] events = ["a.b", "a.c", "b.a.c", "c", "#a.b", "#c", "#a.b.c", "#b.a"];
        (string? Sender, string? Pattern)[] shapes =
        [
            ("s1", "a.b"), ("s1", "a.*"), ("s1", ">"), ("s2", "a.>"), ("s2", "*.a.*"), ("s3", "b.>"), ("s3", "c"),
            ("s1", null), ("s3", null), (null, null),
            (null, "#a.*"), (null, "#>"), (null, "#*"), (null, "#a.b.c"),
            ("s1", "#a.b"), ("s2", "#*.a"), ("s3", "#c"), ("s2", "#a.>"),
        ];

        var index = new RoutingIndex<object>();

        // Registered before the start and never removed: every read must include those that match.
        var stable = shapes.Select(s => RoutingGen.NewItem(s.Sender, s.Pattern)).ToArray();
        foreach (var item in stable)
        {
            item.EverAdded = true;
            index.Add(item.Sender, item.Pattern, item);
        }

        var errors = new ConcurrentQueue<string>();
        var lives = Enumerable.Range(0, Writers).Select(_ => new List<RouteItem>()).ToArray();
        var writersBusy = Writers;
        var round = 0;
        var totalReads = 0L;

        void CheckExact()
        {
            try
            {
                var expected = stable.Concat(lives.SelectMany(l => l)).ToList();
                if (index.Count != expected.Count)
                {
                    errors.Enqueue($"after round {round}: Count is {index.Count}, expected {expected.Count}.");
                }

                foreach (var sender in senders)
                {
                    foreach (var eventName in events)
                    {
                        var want = NaiveRouting.Select(expected, sender, eventName);
                        foreach (var (how, got) in new[] { ("Lookup", index.Lookup(sender, eventName)), ("Match", index.Match(sender, eventName)) })
                        {
                            var wantIds = want.Select(i => i.Id).Order();
                            var gotIds = got.Select(o => ((RouteItem)o).Id).Order();
                            if (!wantIds.SequenceEqual(gotIds))
                            {
                                errors.Enqueue($"after round {round}: {how}({sender}, {eventName}) gave [{string.Join(", ", got)}], expected [{string.Join(", ", want)}].");
                            }
                        }
                    }
                }
            }
            catch (Exception e)
            {
                errors.Enqueue($"after round {round}: check threw {e}");
            }

            round++;
            Volatile.Write(ref writersBusy, Writers);
        }

        using var barrier = new Barrier(Writers + Readers, _ => CheckExact());

        // Every participant reaches every barrier (bodies never throw); a missed one ends the run instead of hanging it.
        bool Arrive()
        {
            if (barrier.SignalAndWait(TimeSpan.FromMinutes(2), ct))
            {
                return true;
            }

            errors.Enqueue("a barrier was not reached in 2 minutes.");
            return false;
        }

        void Write(int w)
        {
            var random = new Random(1_000 + w);
            var live = lives[w];
            for (var r = 0; r < Rounds; r++)
            {
                try
                {
                    for (var op = 0; op < WriterOpsPerRound; op++)
                    {
                        if (live.Count < 4 || (live.Count < 40 && random.Next(2) == 0))
                        {
                            var (sender, pattern) = shapes[random.Next(shapes.Length)];
                            var item = RoutingGen.NewItem(sender, pattern);
                            item.EverAdded = true;
                            index.Add(sender, pattern, item);
                            live.Add(item);
                        }
                        else
                        {
                            var at = random.Next(live.Count);
                            var item = live[at];
                            live.RemoveAt(at);
                            if (!index.Remove(item.Sender, item.Pattern, item))
                            {
                                errors.Enqueue($"writer {w}: Remove({item}) returned false.");
                            }
                        }
                    }
                }
                catch (Exception e)
                {
                    errors.Enqueue($"writer {w} threw {e}");
                }

                Interlocked.Decrement(ref writersBusy);
                if (!Arrive())
                {
                    return;
                }
            }
        }

        void Read(int r)
        {
            var random = new Random(2_000 + r);
            var seen = new HashSet<RouteItem>(ReferenceEqualityComparer.Instance);
            for (var rd = 0; rd < Rounds; rd++)
            {
                try
                {
                    var reads = 0;
                    while (reads < MaxReadsPerRound && (reads < MinReadsPerRound || Volatile.Read(ref writersBusy) > 0))
                    {
                        reads++;
                        var sender = senders[random.Next(senders.Length)];
                        var eventName = events[random.Next(events.Length)];
                        var result = random.Next(8) == 0 ? index.Match(sender, eventName) : index.Lookup(sender, eventName);
                        seen.Clear();
                        foreach (var o in result)
                        {
                            if (o is not RouteItem item)
                            {
                                errors.Enqueue($"reader {r}: ({sender}, {eventName}) gave a {o?.GetType().Name ?? "null"}.");
                                continue;
                            }

                            if (!item.EverAdded || !NaiveRouting.Matches(item.Sender, item.Pattern, sender, eventName))
                            {
                                errors.Enqueue($"reader {r}: ({sender}, {eventName}) gave {item}, never registered for that key.");
                            }

                            if (!seen.Add(item))
                            {
                                errors.Enqueue($"reader {r}: ({sender}, {eventName}) gave {item} twice.");
                            }
                        }

                        foreach (var item in stable)
                        {
                            if (NaiveRouting.Matches(item.Sender, item.Pattern, sender, eventName) && !seen.Contains(item))
                            {
                                errors.Enqueue($"reader {r}: ({sender}, {eventName}) missed {item}, registered all along; got [{string.Join(", ", result)}].");
                            }
                        }
                    }

                    Interlocked.Add(ref totalReads, reads);
                }
                catch (Exception e)
                {
                    errors.Enqueue($"reader {r} threw {e}");
                }

                if (!Arrive())
                {
                    return;
                }
            }
        }

        var tasks = Enumerable.Range(0, Writers).Select(w => (Action)(() => Write(w)))
            .Concat(Enumerable.Range(0, Readers).Select(r => (Action)(() => Read(r))))
            .Select(body => Task.Factory.StartNew(body, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToArray();
        await Task.WhenAll(tasks);

        Assert.True(errors.IsEmpty, $"{errors.Count} problems, the first ones:{Environment.NewLine}{string.Join(Environment.NewLine, errors.Take(20))}");
        Assert.Equal(Rounds, round);
        Assert.True(Interlocked.Read(ref totalReads) >= (long)Readers * Rounds * MinReadsPerRound);
    }
}
