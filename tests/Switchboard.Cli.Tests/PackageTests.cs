using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Xml.Linq;
using Switchboard.Cli.Tests.Support;

namespace Switchboard.Cli.Tests;

/// <summary>Tests that load the machine run alone, after the others.</summary>
[CollectionDefinition(nameof(PackingCollection), DisableParallelization = true)]
public sealed class PackingCollection;

/// <summary>
/// What a user of the packages gets: <c>dotnet pack</c> into a folder, the <c>switchboard</c> tool installed from that
/// folder into a tool path of its own and serving, and a new console app restored from that folder talking to it with
/// <c>BusClient</c>. Offline: every NuGet source here is a local folder (the packed one, and the machine's package
/// cache for the libraries' own dependencies), so nothing is fetched and the machine's NuGet setup is not touched.
/// It packs, restores and builds (both cores, for about 30 s): it runs alone, so the timing tests of the examples do not
/// run beside it.
/// </summary>
[Collection(nameof(PackingCollection))]
public sealed class PackageTests
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(5);

    private static readonly string Configuration = typeof(PackageTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    private static readonly string[] Packages = ["Switchboard", "Switchboard.Server", "Switchboard.Hosting", "Switchboard.Redis", "Switchboard.Cli"];

    [Fact]
    public async Task The_packages_install_the_switchboard_tool_serves_and_a_console_app_restored_from_them_uses_BusClient_against_it()
    {
        var work = Directory.CreateTempSubdirectory("switchboard-packages-").FullName;
        try
        {
            var feed = Path.Combine(work, "feed");
            await RunAsync(CliProcess.RepositoryRoot(), "pack", "Switchboard.sln", "-c", Configuration, "--no-build", "--no-restore", "-o", feed, "--disable-build-servers");
            var version = CheckPackages(feed);

            var config = WriteNuGetConfig(work, feed);
            var tools = Path.Combine(work, "tools");
            await RunAsync(work, "tool", "install", "Switchboard.Cli", "--version", version, "--tool-path", tools, "--configfile", config);
            await using var broker = CliProcess.StartProgram(Path.Combine(tools, "switchboard"), "switchboard (installed)", "serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off");
            var address = (await broker.WaitForOutAsync("listening: sb://", StepTimeout))["listening: ".Length..];

            var app = WriteConsoleApp(work, version);
            await RunAsync(app, "restore", "--configfile", config, "--packages", Path.Combine(work, "packages"), "--disable-build-servers");
            await RunAsync(app, "build", "-c", "Release", "--no-restore", "--disable-build-servers", "-nologo");
            var output = await RunAsync(app, Path.Combine(app, "bin", "Release", "net10.0", "PackagedApp.dll"), address);
            Assert.Contains($"received 'from a package' from packaged via {address}", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Each package and its symbols are there, with README, license and repository metadata; returns the version.</summary>
    private static string CheckPackages(string feed)
    {
        var tool = Assert.Single(Directory.GetFiles(feed, "Switchboard.Cli.*.nupkg"));
        var version = Path.GetFileNameWithoutExtension(tool)["Switchboard.Cli.".Length..];
        foreach (var id in Packages)
        {
            var package = Path.Combine(feed, $"{id}.{version}.nupkg");
            Assert.True(File.Exists(package), $"{package} is missing; the feed has {string.Join(", ", Directory.GetFiles(feed).Select(Path.GetFileName))}");
            Assert.True(File.Exists(Path.ChangeExtension(package, ".snupkg")), $"{id} has no symbol package");
            using var zip = ZipFile.OpenRead(package);
            Assert.NotNull(zip.GetEntry("README.md"));
            Assert.NotNull(zip.GetEntry("LICENSE"));
            using var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
            var metadata = XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string? Field(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
            Assert.Equal("LICENSE", Field("license"));
            Assert.Equal("README.md", Field("readme"));
            var repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
            Assert.Equal("git", repository.Attribute("type")?.Value);
            Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? "");
        }

        return version;
    }

    /// <summary>Only local folders: the packed one, and the package cache the solution's own restore filled.</summary>
    private static string WriteNuGetConfig(string work, string feed)
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set
            ? set
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var sources = new StringBuilder();
        sources.Append($"<add key=\"packed\" value=\"{feed}\" />");
        sources.Append($"<add key=\"cache\" value=\"{cache}\" />");
        if (Directory.Exists("/opt/nuget/packages"))
        {
            sources.Append("<add key=\"machine\" value=\"/opt/nuget/packages\" />");
        }

        var path = Path.Combine(work, "nuget.config");
        File.WriteAllText(path, $"<?xml version=\"1.0\" encoding=\"utf-8\"?><configuration><packageSources><clear />{sources}</packageSources></configuration>");
        return path;
    }

    private static string WriteConsoleApp(string work, string version)
    {
        var app = Directory.CreateDirectory(Path.Combine(work, "PackagedApp")).FullName;
        File.WriteAllText(Path.Combine(app, "PackagedApp.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Switchboard" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Switchboard;

            await using var bus = await BusClient.ConnectAsync(args[0], new BusClientOptions { ClientName = "packaged-app" });
            await using var queue = await bus.ListenAsync("packaged", "#hello");
            await using var sender = await bus.AddSenderAsync("packaged", ["#hello"]);
            await sender.TriggerAsync("#hello", Payload.Json("from a package"));
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var message = await queue.ReadAsync(deadline.Token);
            Console.WriteLine($"received '{message.As<string>()}' from {message.Sender} via {bus.ConnectedAddress}");
            """);
        return app;
    }

    /// <summary>Runs dotnet with ARGS in <paramref name="directory"/>; fails the test with everything it printed unless it exits 0.</summary>
    private static async Task<string> RunAsync(string directory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(StepTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} took more than {StepTimeout.TotalMinutes} minutes");
        }

        var text = await output + await error;
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} exited with {process.ExitCode}:\n{text}");
        return text;
    }
}
