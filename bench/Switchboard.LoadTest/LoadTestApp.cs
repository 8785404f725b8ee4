using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Switchboard.Server;

namespace Switchboard.LoadTest;

/// <summary>The load tool's commands (run, serve, alloc, free-port): <c>Switchboard.LoadTest ARGS</c> and
/// <c>switchboard bench ARGS</c> both come here.</summary>
public static class LoadTestApp
{
    /// <summary>What the commands are and take.</summary>
    public const string Usage = """
        Switchboard.LoadTest (also `switchboard bench`): the same load, over raw sockets, against a Switchboard broker and nats-server.

          run [options]          measure brokers already running on 127.0.0.1 (markdown on stdout, progress on stderr)
            --switchboard PORT[:PID]   a Switchboard broker (PID: its process, for CPU and RSS)
            --nats PORT[:PID]          a nats-server
            --switchboard-label TEXT, --nats-label TEXT   how the report names them
            --switchboard-jsonl PORT[:PID]  the same broker's JSON-lines gateway (every connection speaks JSON lines)
            --switchboard-ws PORT[:PID]     its HTTP port: the binary protocol over WebSocket (/ws)
            --switchboard-sse PORT[:PID]    its HTTP port: subscribers are SSE streams (GET /events), the publisher /ws
                                       (each target at most once; with two, the table gives the first over the second)
            --clients                  generate the load with the real clients (BusClient, NATS.Net) instead of raw
                                       sockets: S1-S4, S6, S7, plus the clients' allocated bytes per delivery or request
            --scenarios S1,S2,...      default: S1..S8; S9 (only when named) is 1 publisher -> --fan-out N (1000)
                                       subscribers, 16 B, with each delivery's latency
            --runs N (3)  --duration SECONDS (3)  --warmup SECONDS (2)
            --window MESSAGES (10000)  --window-bytes BYTES (2097152)
            --connections N (2000, S5)  --subjects N (10000, S6, S8)  --concurrency N (64, S7)
            --settle SECONDS (2, S5)  --drain SECONDS (3)  --clk-tck N (100)  --seed N
            --out FILE                 also write the markdown there
          serve [--port N]       run a bare Switchboard broker (BrokerHost) until SIGTERM; prints 'listening: sb://...'
          alloc [--messages N (10000000)] [--warmup N (200000)] [--payload BYTES (16)] [--copy-data]
                                 the steady-state allocation proof: broker + publisher + listener BusClients in this
                                 process, GC.GetTotalAllocatedBytes before and after N messages (markdown on stdout)
          memory [--switchboard PORT:PID] [--nats PORT:PID] [--connections N (2000)] [--settle SECONDS (2)]
                                 idle-connection memory: per broker, N idle connections opened, closed, N opened
                                 again; RSS (VmRSS) after each step and the cost per connection of each batch (markdown
                                 table on stdout). bench/run-loadtest.sh --memory adds idle RSS right after start and
                                 30 s after the scenarios, and runs this.
          free-port              print a free TCP port on 127.0.0.1
        """;

    /// <summary>Runs one command; returns the process exit code (0 ok, 1 a measured run failed, 2 bad usage).</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return 0;
        }

        try
        {
            return args[0] switch
            {
                "serve" => await ServeAsync(args[1..]),
                "free-port" => FreePort(),
                "alloc" => await AllocAsync(args[1..]),
                "memory" => Memory(args[1..]),
                "run" => await MeasureAsync(args[1..]),
                _ when args[0].StartsWith("--", StringComparison.Ordinal) => await MeasureAsync(args),
                _ => throw new ArgumentException($"Unknown command '{args[0]}'."),
            };
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message);
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
    }

    private static async Task<int> MeasureAsync(string[] args)
    {
        var options = new LoadOptions();
        var targets = new List<BrokerTarget>();
        string? output = null;
        string? sbLabel = null;
        string? natsLabel = null;
        System.Security.Cryptography.X509Certificates.X509Certificate2? tls = null;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            int Int() => int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"{name} needs a whole number.");
            TimeSpan Seconds() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 ? TimeSpan.FromSeconds(v) : throw new ArgumentException($"{name} needs a number of seconds.");
            switch (name)
            {
                case "--switchboard": targets.Add(ParseTarget(BrokerKind.Switchboard, Value())); break;
                case "--nats": targets.Add(ParseTarget(BrokerKind.Nats, Value())); break;
                case "--switchboard-label": sbLabel = Value(); break;
                case "--nats-label": natsLabel = Value(); break;
                case "--scenarios": options = options with { Scenarios = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToUpperInvariant()).ToArray() }; break;
                case "--runs": options = options with { Runs = Int() }; break;
                case "--duration": options = options with { Duration = Seconds() }; break;
                case "--warmup": options = options with { Warmup = Seconds() }; break;
                case "--window": options = options with { WindowMessages = Int() }; break;
                case "--window-bytes": options = options with { WindowBytes = Int() }; break;
                case "--connections": options = options with { IdleConnections = Int() }; break;
                case "--subjects": options = options with { Subjects = Int() }; break;
                case "--concurrency": options = options with { Concurrency = Int() }; break;
                case "--settle": options = options with { Settle = Seconds() }; break;
                case "--drain": options = options with { DrainTimeout = Seconds() }; break;
                case "--clk-tck": options = options with { ClockTicksPerSecond = Int() }; break;
                case "--seed": options = options with { Seed = Int() }; break;
                case "--clients": options = options with { Driver = LoadDriver.Clients }; break;
                case "--fan-out": options = options with { FanOut = Int() }; break;
                case "--switchboard-jsonl": targets.Add(ParseTarget(BrokerKind.Switchboard, Value()) with { Surface = Surface.JsonLines }); break;
                case "--switchboard-ws": targets.Add(ParseTarget(BrokerKind.Switchboard, Value()) with { Surface = Surface.WebSocket }); break;
                case "--switchboard-sse": targets.Add(ParseTarget(BrokerKind.Switchboard, Value()) with { Surface = Surface.Sse }); break;
                case "--out": output = Value(); break;
                case "--tls": tls = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(Value())); break;
                default: throw new ArgumentException($"Unknown option '{name}'.");
            }
        }

        targets = targets.Select(t => t with { Label = t.Kind == BrokerKind.Switchboard ? sbLabel : natsLabel, Tls = tls }).ToList();
        options = options with { Targets = targets };
        options.Validate();
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        var report = await LoadRunner.RunAsync(options, Console.Error, cancel.Token);
        var markdown = report.ToMarkdown();
        Console.Out.Write(markdown);
        if (output is not null)
        {
            await File.WriteAllTextAsync(output, markdown);
        }

        var failed = report.Scenarios.Sum(s => s.Runs.Values.Sum(r => r.Count(m => m.Failed)));
        return failed == 0 ? 0 : 1;
    }

    private static int Memory(string[] args)
    {
        var targets = new List<BrokerTarget>();
        var connections = 2000;
        var settle = TimeSpan.FromSeconds(2);
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            switch (name)
            {
                case "--switchboard": targets.Add(ParseTarget(BrokerKind.Switchboard, Value())); break;
                case "--nats": targets.Add(ParseTarget(BrokerKind.Nats, Value())); break;
                case "--connections":
                    connections = int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException("--connections needs a positive whole number.");
                    break;
                case "--settle":
                    settle = double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s >= 0 ? TimeSpan.FromSeconds(s) : throw new ArgumentException("--settle needs a number of seconds.");
                    break;
                default: throw new ArgumentException($"Unknown option '{name}'.");
            }
        }

        if (targets.Count == 0)
        {
            throw new ArgumentException("memory needs --switchboard PORT:PID and/or --nats PORT:PID.");
        }

        Console.Out.Write(MemoryReport.Measure(targets, connections, settle, Console.Error));
        return 0;
    }

    private static BrokerTarget ParseTarget(BrokerKind kind, string text)
    {
        var parts = text.Split(':');
        if (parts.Length is < 1 or > 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new ArgumentException($"'{text}' is not PORT or PORT:PID.");
        }

        int? pid = null;
        if (parts.Length == 2)
        {
            pid = int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 0 ? p : throw new ArgumentException($"'{parts[1]}' is not a process id.");
        }

        return new BrokerTarget(kind, port, pid);
    }

    private static async Task<int> ServeAsync(string[] args)
    {
        var port = 0;
        if (args is ["--port", var value])
        {
            port = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p <= 65535 ? p : throw new ArgumentException($"--port '{value}' is not a TCP port.");
        }
        else if (args.Length != 0)
        {
            throw new ArgumentException("serve takes only --port N.");
        }

        BrokerHost.UseInlineSocketCompletions(); // as switchboard serve does
        await using var host = await BrokerHost.StartAsync(new BrokerOptions
        {
            Host = "127.0.0.1",
            Port = port,
            // S5 opens 200 + runs x 2,000 connections from 127.0.0.1: above the default per-address limit with
            // --runs 5. nats-server's default is 64K connections in all and no per-address limit.
            MaxConnections = 65_536,
            MaxConnectionsPerAddress = 65_536,
        });
        Console.WriteLine($"listening: {host.TcpAddress}");
        await host.WaitForShutdownAsync(); // SIGTERM or Ctrl+C
        return 0;
    }

    private static async Task<int> AllocAsync(string[] args)
    {
        long messages = 10_000_000;
        long warmup = 200_000;
        var payload = 16;
        var borrow = true;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            long Count() => i + 1 < args.Length && long.TryParse(args[++i], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0
                ? v
                : throw new ArgumentException($"{name} needs a positive whole number.");
            switch (name)
            {
                case "--messages": messages = Count(); break;
                case "--warmup": warmup = Count(); break;
                case "--payload": payload = (int)Math.Min(Count(), 1 << 20); break;
                case "--copy-data": borrow = false; break; // the listener default: each callback gets its own copy of the payload
                default: throw new ArgumentException($"Unknown option '{name}'.");
            }
        }

        return await AllocationRun.RunAsync(messages, warmup, payload, borrow, Console.Out, Console.Error);
    }

    private static int FreePort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Console.WriteLine(((IPEndPoint)listener.LocalEndPoint!).Port);
        return 0;
    }

}
