using System.CommandLine;
using Switchboard.Server.Security;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard hash-password</c>: reads a password from the first line of stdin (never from the command line,
/// where <c>ps</c> would show it) and prints its PBKDF2 hash for a user's <c>Password</c> in the config file.</summary>
public static class HashPasswordCommand
{
    public static Command Create()
    {
        var iterations = new Option<int>("--iterations")
        {
            Description = $"PBKDF2 iterations (default {PasswordHash.DefaultIterations}: OWASP's advice for PBKDF2-HMAC-SHA256; each login costs that much).",
            HelpName = "N",
            DefaultValueFactory = _ => PasswordHash.DefaultIterations,
        };
        iterations.Validators.Add(result =>
        {
            if (ServeTuning.TryGetInt(result, out var value) && value < 1000)
            {
                result.AddError($"--iterations {value} is too few; use at least 1000.");
            }
        });
        var command = new Command("hash-password", "Reads a password from the first line of stdin and prints its hash (pbkdf2-sha256$...) for a user's \"Password\" in serve's --config file.")
        {
            iterations,
        };
        command.With(
            "read -rs P && echo \"$P\" | switchboard hash-password",
            "echo \"$P\" | switchboard hash-password --iterations 1000000");
        command.SetAction(async (result, cancellationToken) =>
        {
            var password = await Console.In.ReadLineAsync(cancellationToken);
            if (string.IsNullOrEmpty(password))
            {
                throw new CliException(ExitCodes.Usage, "no password on stdin: pipe one line, for example: read -rs P && echo \"$P\" | switchboard hash-password");
            }

            await Console.Out.WriteLineAsync(PasswordHash.Create(password, result.GetValue(iterations)));
            return ExitCodes.Ok;
        });
        return command;
    }
}
