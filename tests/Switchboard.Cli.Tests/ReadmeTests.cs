using System.Text.RegularExpressions;
using Switchboard.Cli.Tests.Support;

namespace Switchboard.Cli.Tests;

/// <summary>README's code cannot drift from the examples: every C# block in it names the example file it comes from,
/// and its lines are that file's lines, in order; the tour's printed output is what the demo prints.</summary>
public sealed partial class ReadmeTests
{
    /// <summary>A line that stands for lines of the example left out of the quote.</summary>
    private const string Elision = "// ...";

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"\]\((examples/[^)]+\.cs)\)")]
    private static partial Regex ExampleLink();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_csharp_block_in_the_readme_is_lines_of_the_example_file_it_links_in_that_order()
    {
        var readme = await ReadAsync("README.md");
        var blocks = CSharpBlock().Matches(readme);
        Assert.True(blocks.Count >= 3, $"README should quote the tour, the web app and the worker; it has {blocks.Count} C# blocks");
        var previousEnd = 0;
        foreach (Match block in blocks)
        {
            // The file is the last example linked between the previous block and this one.
            var links = ExampleLink().Matches(readme[previousEnd..block.Index]);
            Assert.True(links.Count > 0, $"The C# block at offset {block.Index} of README.md names no example file before it:\n{block.Value}");
            var file = links[^1].Groups[1].Value;
            AssertLinesInOrder(file, Lines(block.Groups[1].Value), Lines(await ReadAsync(file)));
            previousEnd = block.Index + block.Length;
        }
    }

    [Fact]
    public async Task The_tours_output_in_the_readme_is_what_the_demo_prints()
    {
        var readme = await ReadAsync("README.md");
        const string Heading = "Its output (`dotnet run --project examples/Switchboard.Demo -- --ticks 2`):";
        var start = readme.IndexOf("```\n", readme.IndexOf(Heading, StringComparison.Ordinal), StringComparison.Ordinal) + 4;
        var shown = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
        await using var demo = CliProcess.StartExample("Switchboard.Demo", closeInput: true, "--ticks", "2");

        Assert.True(await demo.WaitForExitAsync() == 0, demo.Transcript);
        // Callbacks print from the handler threads, so lines may interleave differently; the lines themselves may not differ.
        Assert.Equal(Lines(shown).Order(StringComparer.Ordinal), Lines(demo.RemainingOut()).Order(StringComparer.Ordinal));
    }

    /// <summary>Each quoted line is a line of the file (both trimmed), later than the one before; <see cref="Elision"/>
    /// lines stand for what was left out.</summary>
    private static void AssertLinesInOrder(string file, List<string> quoted, List<string> source)
    {
        var at = 0;
        foreach (var line in quoted.Where(l => l != Elision))
        {
            var found = source.FindIndex(at, l => l == line);
            Assert.True(found >= 0, $"README quotes a line that {file} does not have (after its line {at}): {line}");
            at = found + 1;
        }
    }

    private static List<string> Lines(string text) =>
        [.. text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0)];

    private static Task<string> ReadAsync(string path) =>
        File.ReadAllTextAsync(Path.Combine(CliProcess.RepositoryRoot(), path), Ct);
}
