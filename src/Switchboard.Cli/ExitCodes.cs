namespace Switchboard.Cli;

/// <summary>What <c>switchboard</c> exits with.</summary>
public static class ExitCodes
{
    /// <summary>Done (also after Ctrl+C or SIGTERM).</summary>
    public const int Ok = 0;

    /// <summary>The operation failed: the bus answered with an error (<c>error: CODE: message</c>).</summary>
    public const int Failed = 1;

    /// <summary>Bad usage, or <c>serve</c> could not listen where asked (a taken port).</summary>
    public const int Usage = 2;

    /// <summary>No broker could be reached.</summary>
    public const int Connect = 3;
}

/// <summary>A failure the command line reports as <c>error: MESSAGE</c> with <see cref="ExitCode"/>.</summary>
public sealed class CliException : Exception
{
    public CliException(int exitCode, string message)
        : base(message)
    {
        ExitCode = exitCode;
    }

    public CliException()
    {
    }

    public CliException(string message)
        : base(message)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public int ExitCode { get; } = ExitCodes.Failed;
}
