using System.Diagnostics;
using System.Globalization;
using System.Xml.Linq;

namespace Switchboard.Tests.JsonLines;

/// <summary>Installs <c>clients/python</c> into a fresh venv the way a user would (pip, offline) and runs its pytest
/// suite with that venv's python against a real broker's JSON-lines gateway started here.</summary>
public sealed class PythonPackageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The tests in clients/python/tests: a change in their number must be made here too, so a suite that
    /// silently collects fewer tests fails.</summary>
    private const int SuiteTests = 12;

    [Fact]
    public async Task The_python_package_installs_into_a_fresh_venv_and_its_pytest_suite_passes()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        var port = new Uri(host.JsonLinesAddress!).Port;
        var package = Path.Combine(PythonExampleTests.RepoRoot(), "clients", "python");
        var temp = Directory.CreateTempSubdirectory("switchboard-venv-");
        try
        {
            var venv = Path.Combine(temp.FullName, "venv");

            // Debian's python3 carries apt's pytest and wheel (tests/run.sh installs python3-pytest); the venv sees
            // them through --system-site-packages, since PyPI is not reachable from CI.
            await RunAsync(SystemPython(), temp.FullName, null, "-m", "venv", "--system-site-packages", venv);
            var python = Path.Combine(venv, "bin", "python");
            await RunAsync(python, temp.FullName, null, "-m", "pip", "install", "--no-build-isolation", "--no-index", package);

            var report = Path.Combine(temp.FullName, "pytest.xml");
            var address = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}");

            // Run from the temp directory with the tests by path: the package is imported from the venv, not the source tree.
            var output = await RunAsync(python, temp.FullName, address,
                "-m", "pytest", "-p", "no:cacheprovider", "-q", "--junitxml", report, Path.Combine(package, "tests"));
            var suite = XDocument.Load(report).Descendants("testsuite").Single();
            int Count(string name) => int.Parse(suite.Attribute(name)!.Value, CultureInfo.InvariantCulture);
            Assert.True(Count("tests") == SuiteTests, $"pytest ran {Count("tests")} tests, not {SuiteTests}.\n{output}");
            Assert.Equal((0, 0, 0), (Count("failures"), Count("errors"), Count("skipped")));
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    /// <summary>/usr/bin/python3 when there is one (apt's pytest lives there); otherwise python3 from PATH.</summary>
    private static string SystemPython() => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>Runs a process to its end (within 2 minutes) and returns its output; a non-zero exit code fails the test
    /// with everything it printed.</summary>
    private static async Task<string> RunAsync(string file, string directory, string? address, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PYTHONUNBUFFERED"] = "1";
        start.Environment.Remove("PYTHONPATH");
        if (address is not null)
        {
            start.Environment["SWITCHBOARD_JSONLINES"] = address;
        }

        using var process = Process.Start(start)!;
        var pid = process.Id;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(Ct);
            var stderr = process.StandardError.ReadToEndAsync(Ct);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            deadline.CancelAfter(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(deadline.Token);
            var output = await stdout + await stderr;
            Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{output}");
            return output;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true); // this process only, by the handle we started
            }
        }
    }
}
