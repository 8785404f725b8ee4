using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Switchboard.Redis;
using Switchboard.Server;
using Switchboard.Server.Security;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard serve</c>: runs a broker until Ctrl+C or SIGTERM, then shuts down as a lame duck.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var host = new Option<string>("--host")
        {
            Description = "The address the binary protocol listens on: 127.0.0.1, ::1, localhost, 0.0.0.0 or * (every interface), or any IP address.",
            HelpName = "ADDRESS",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        host.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (value is not ("localhost" or "*") && !IPAddress.TryParse(value, out _))
            {
                result.AddError($"--host '{value}' is not an IP address; use 127.0.0.1, ::1, localhost, 0.0.0.0 or *.");
            }
        });
        var port = new Option<int>("--port", "-p")
        {
            Description = "The binary protocol's TCP port (sb://HOST:PORT); 0 picks any free port (the line 'listening: ...' tells which).",
            HelpName = "PORT",
            DefaultValueFactory = _ => BusAddress.DefaultPort,
        };
        port.Validators.Add(result =>
        {
            if (ServeTuning.TryGetInt(result, out var value) && value is < 0 or > 65535)
            {
                result.AddError($"--port {value} is not a TCP port; use 0 to 65535 (0 picks any free port).");
            }
        });
        var unix = new Option<string?>("--unix")
        {
            Description = "Also listen on this Unix socket (address sb+unix:///PATH). A stale socket file there is replaced.",
            HelpName = "PATH",
        };
        var jsonlPort = PortOption("--jsonl-port", 7223, "The JSON-lines gateway's TCP port (jsonl://HOST:PORT, one JSON object per line: nc is enough)");
        var jsonlUnix = new Option<string?>("--jsonl-unix")
        {
            Description = "Also serve the JSON-lines gateway on this Unix socket (jsonl+unix:///PATH).",
            HelpName = "PATH",
        };
        var httpPort = PortOption("--http-port", 7280, "The HTTP port: the binary protocol over WebSocket at /ws, /healthz and the HTTP gateway");
        var logLevel = LogLevels.Option();
        var tuning = new ServeTuning();
        var security = new ServeSecurity();
        var cluster = ClusterFlags.Create();

        var command = new Command("serve", "Runs a broker. Prints 'listening: ADDRESS' for each endpoint once it accepts clients; Ctrl+C or SIGTERM tells clients to move elsewhere (lame duck), prints 'stopped' and exits 0.")
        {
            host, port, unix, jsonlPort, jsonlUnix, httpPort, logLevel,
        };
        tuning.AddTo(command);
        security.AddTo(command);
        cluster.AddTo(command);
        command.With(
            "switchboard serve  # sb://127.0.0.1:7222, JSON lines on 7223, HTTP on 7280",
            "switchboard serve --port 0 --jsonl-port off --http-port off  # any free port, binary protocol only",
            "switchboard serve --host 0.0.0.0 --config broker.json  # exposed: give it users or tokens",
            "switchboard serve --unix /tmp/switchboard.sock --log-level information",
            "switchboard serve --cluster redis://127.0.0.1:6379  # one of several brokers sharing a bus");
        command.SetAction((result, _) => RunAsync(
            result.GetValue(host)!,
            result.GetValue(port),
            result.GetValue(unix),
            ParsePort(result.GetValue(jsonlPort)),
            result.GetValue(jsonlUnix),
            ParsePort(result.GetValue(httpPort)),
            LogLevels.Parse(result.GetValue(logLevel)),
            tuning.Read(result),
            security.Read(result, result.GetValue(host)!),
            cluster.Read(result),
            security));
        return command;
    }

    /// <summary>A port option that also takes <c>off</c>.</summary>
    private static Option<string> PortOption(string name, int defaultPort, string description)
    {
        var option = new Option<string>(name)
        {
            Description = $"{description}; 0 picks any free port, 'off' turns it off (default {defaultPort}).",
            HelpName = "PORT|off",
            DefaultValueFactory = _ => defaultPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (value != "off" && (!int.TryParse(value, out var number) || number is < 0 or > 65535))
            {
                result.AddError($"{name} '{value}' is not a TCP port; use 0 to 65535 (0 picks any free port) or 'off'.");
            }
        });
        return option;
    }

    private static int? ParsePort(string? value) => value is null or "off" ? null : int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<int> RunAsync(string host, int port, string? unix, int? jsonlPort, string? jsonlUnix, int? httpPort, LogLevel level, BrokerTuning tuning, SecurityOptions security, ClusterOptions? clusterOptions, ServeSecurity flags)
    {
        foreach (var path in new[] { unix, jsonlUnix })
        {
            if (path is not null && CheckUnixPath(Path.GetFullPath(path)) is { } problem)
            {
                throw new CliException(ExitCodes.Usage, problem);
            }
        }

        unix = unix is null ? null : Path.GetFullPath(unix);
        jsonlUnix = jsonlUnix is null ? null : Path.GetFullPath(jsonlUnix);

        BrokerHost.UseInlineSocketCompletions(); // this process is only a broker: no blocking socket callbacks
        using var shutdown = new Shutdown();
        using var loggerFactory = LoggerFactory.Create(builder => LogLevels.ConfigureConsole(builder, level));
        var options = tuning.ApplyTo(new BrokerOptions
        {
            Host = host,
            Port = port,
            UnixSocketPath = unix,
            JsonLinesPort = jsonlPort,
            JsonLinesUnixSocketPath = jsonlUnix,
            HttpPort = httpPort,
            Security = security,
            Bus = BusOptions.Default with { LoggerFactory = loggerFactory },
        });

        BrokerHost broker;
        ClusterNode? node = null;
        try
        {
            broker = await BrokerHost.StartAsync(
                options,
                logging: builder => LogLevels.ConfigureConsole(builder, level),
                beforeListening: async b => node = clusterOptions is null ? null : await ClusterNode.StartAsync(b, clusterOptions, shutdown.Token),
                cancellationToken: shutdown.Token);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            throw new CliException(ExitCodes.Usage, DescribeBindFailure(ex, host, port, unix));
        }
        catch (SwitchboardException ex) when (ex.Code == ErrorCodes.InvalidArgument)
        {
            throw new CliException(ExitCodes.Usage, $"--config: {ex.Message}"); // an identity or permission the broker cannot use
        }
        catch (SwitchboardException ex) when (ex.Code == ErrorCodes.ConnectFailed)
        {
            throw new CliException(ExitCodes.Usage, ex.Message);
        }

        await using (node)
        await using (broker)
        await using (IdleMemoryTrim.Start()) // this process is only a broker: give back what a burst of load left behind
        using (flags.ConfigFile is { } file && flags.Reread is { } reread ? new ConfigReloader(file, reread, broker.Broker) : null)
        {
            await AnnounceAsync(broker, node, security, host);
            try
            {
                await Task.Delay(Timeout.Infinite, shutdown.Token);
            }
            catch (OperationCanceledException)
            {
            }

            await Console.Error.WriteLineAsync($"stopping: telling {broker.Broker.ConnectionCount} connected client(s) to move elsewhere (lame duck)");
            await broker.StopAsync();
        }

        await Console.Out.WriteLineAsync("stopped");
        await Console.Out.FlushAsync();
        return ExitCodes.Ok;
    }

    /// <summary>What protects the broker, on stderr beside the other status lines; then one 'listening:' line per
    /// endpoint on stdout, and the cluster it joined.</summary>
    private static async Task AnnounceAsync(BrokerHost broker, ClusterNode? node, SecurityOptions security, string host)
    {
        await Console.Error.WriteLineAsync($"security: {broker.Broker.DescribeSecurity()}; {(security.Tls is null ? "no TLS" : "TLS")}; {(ServeSecurity.IsLoopback(host) ? "loopback only" : $"exposed on {host}")}");
        foreach (var endpoint in broker.Endpoints)
        {
            await Console.Out.WriteLineAsync($"listening: {endpoint}");
        }

        if (node is not null)
        {
            await Console.Out.WriteLineAsync($"cluster: {node.Options.Name} as node {node.Member} through redis {node.Options.Redis}");
        }

        await Console.Out.FlushAsync();
    }

    /// <summary>A Unix socket path that cannot work, said before Kestrel says it less clearly; null when it looks fine.</summary>
    private static string? CheckUnixPath(string path)
    {
        var directory = Path.GetDirectoryName(path);
        if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
        {
            return $"--unix {path}: the directory {directory} does not exist";
        }

        if (Directory.Exists(path))
        {
            return $"--unix {path} is a directory; give the path of the socket file to create";
        }

        const int MaxSocketPath = 107; // sun_path is 108 bytes with the terminating zero on Linux
        var length = System.Text.Encoding.UTF8.GetByteCount(path);
        return length > MaxSocketPath ? $"--unix {path} is {length} bytes long; a Unix socket path may have at most {MaxSocketPath}" : null;
    }

    private static string DescribeBindFailure(Exception ex, string host, int port, string? unix)
    {
        var reason = (ex.InnerException ?? ex).Message.ReplaceLineEndings(" ");
        var inUse = ex.InnerException is AddressInUseException
            || ex is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }
            || ex.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse };
        if (unix is not null && ex.Message.Contains("unix:", StringComparison.Ordinal))
        {
            return inUse ? $"the Unix socket {unix} is already in use" : $"could not listen on the Unix socket {unix}: {reason}";
        }

        if (inUse)
        {
            var taken = System.Text.RegularExpressions.Regex.Match(ex.Message, @":(\d+)\b") is { Success: true } m ? m.Groups[1].Value : port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return $"port {taken} on {host} is already in use (--port, --jsonl-port and --http-port choose others, 0 picks any free port)";
        }

        // Kestrel names the address only when it was in use; otherwise either endpoint may have failed.
        return unix is null
            ? $"could not listen on {host}:{port}: {reason}"
            : $"could not listen on {host}:{port} or the Unix socket {unix}: {reason}";
    }
}

/// <summary>The <c>--log-level</c> option and the console logging it turns on (to stderr, so stdout stays for results).</summary>
public static class LogLevels
{
    private static readonly Dictionary<string, LogLevel> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["trace"] = LogLevel.Trace,
        ["debug"] = LogLevel.Debug,
        ["information"] = LogLevel.Information,
        ["info"] = LogLevel.Information,
        ["warning"] = LogLevel.Warning,
        ["warn"] = LogLevel.Warning,
        ["error"] = LogLevel.Error,
        ["critical"] = LogLevel.Critical,
        ["none"] = LogLevel.None,
    };

    public static Option<string> Option()
    {
        var option = new Option<string>("--log-level")
        {
            Description = "What the broker logs to stderr: trace, debug, information, warning, error, critical or none.",
            HelpName = "LEVEL",
            DefaultValueFactory = _ => "warning",
        };
        option.AcceptOnlyFromAmong([.. Names.Keys]);
        return option;
    }

    public static LogLevel Parse(string? name) => name is not null && Names.TryGetValue(name, out var level) ? level : LogLevel.Warning;

    public static void ConfigureConsole(ILoggingBuilder builder, LogLevel level)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.ClearProviders();
        builder.SetMinimumLevel(level);
        // Kestrel's "Now listening on http://..." would be wrong (this is not HTTP); 'listening: ...' on stdout says it right.
        builder.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        // A port that cannot be bound is reported by 'serve' itself in one line; the host's own report is a stack trace.
        builder.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", level <= LogLevel.Debug ? level : LogLevel.Critical);
        if (level == LogLevel.None)
        {
            return;
        }

        builder.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.Configure<ConsoleLoggerOptions>(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
    }
}
