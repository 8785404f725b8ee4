using Spectre.Console;

namespace Switchboard.Cli;

/// <summary>Where the command line may decorate its output: tables with borders, colours and live displays only on a
/// terminal, and colours never when <c>NO_COLOR</c> is set (https://no-color.org). A stream that is redirected gets
/// plain lines, exactly as before, so scripts and pipes see no escape sequence and no wrapping.</summary>
public static class Terminal
{
    /// <summary>The variable that turns colours off whatever its value, unless it is empty (https://no-color.org).</summary>
    public const string NoColorVariable = "NO_COLOR";

    /// <summary>True when <c>NO_COLOR</c> asks for no colours.</summary>
    public static bool NoColor => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(NoColorVariable));

    /// <summary>A console that decorates stdout; null when stdout is not a terminal (then write plain lines).</summary>
    public static IAnsiConsole? Stdout() => Console.IsOutputRedirected ? null : Create(Console.Out);

    /// <summary>A console that decorates stderr; null when stderr is not a terminal.</summary>
    public static IAnsiConsole? Stderr() => Console.IsErrorRedirected ? null : Create(Console.Error);

    private static IAnsiConsole Create(TextWriter writer) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Ansi = AnsiSupport.Detect, // TERM decides which sequences (a dumb terminal gets none)
        ColorSystem = Colours(),
        Interactive = InteractionSupport.Yes,
        Out = new TerminalOutput(writer),
        // It is a terminal (checked above): no guessing from CI variables that would turn the live displays off.
        Enrichment = new ProfileEnrichment { UseDefaultEnrichers = false },
    });

    private static ColorSystemSupport Colours()
    {
        if (NoColor)
        {
            return ColorSystemSupport.NoColors;
        }

        // NO_COLOR set but empty is no request (no-color.org), though Spectre.Console's detection reads any NO_COLOR as
        // one; then decide as it does on Unix: COLORTERM says true colour, otherwise 256 colours.
        return Environment.GetEnvironmentVariable(NoColorVariable) is null
            ? ColorSystemSupport.Detect
            : Environment.GetEnvironmentVariable("COLORTERM") is "truecolor" or "24bit" ? ColorSystemSupport.TrueColor : ColorSystemSupport.EightBit;
    }

    /// <summary>The terminal behind a writer, known to be one when this was made: <c>bench</c> replaces
    /// <see cref="Console.Error"/> with a line collector while its status draws on the real stderr.</summary>
    private sealed class TerminalOutput(TextWriter writer) : IAnsiConsoleOutput
    {
        private const int DefaultWidth = 80; // a pseudo-terminal nobody sized reports 0 columns

        public TextWriter Writer => writer;

        public bool IsTerminal => true;

        public int Width => Size(() => Console.WindowWidth, DefaultWidth);

        public int Height => Size(() => Console.WindowHeight, 24);

        public void SetEncoding(System.Text.Encoding encoding)
        {
            // The writer's encoding is the console's (UTF-8 here); box drawing and the spinner need nothing more.
        }

        private static int Size(Func<int> read, int fallback)
        {
            try
            {
                return read() is > 0 and var size ? size : fallback;
            }
            catch (IOException)
            {
                return fallback;
            }
        }
    }
}

/// <summary>Lines on stdout, in a colour on a terminal and plain otherwise; safe to call from several tasks at once.</summary>
public sealed class StyledLines
{
    private readonly IAnsiConsole? _console = Terminal.Stdout();
    private readonly Lock _gate = new();

    /// <summary>Writes <paramref name="text"/> as one line, in <paramref name="color"/> when stdout is a terminal with colours.</summary>
    public void Write(string text, Color? color = null)
    {
        lock (_gate)
        {
            if (_console is null)
            {
                Console.Out.WriteLine(text);
                Console.Out.Flush(); // a pipe reader (a test, tee) sees each line as it happens
                return;
            }

            _console.Write(new Text(text, color is { } c ? new Style(c) : Style.Plain));
            _console.WriteLine();
        }
    }
}
