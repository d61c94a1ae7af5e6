namespace Mechanist.Cli;

/// <summary>Exit codes of every command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>A finding at error severity (including MECH0001, a method that threw).</summary>
    public const int ErrorFinding = 1;

    /// <summary>Bad usage or input: one clear line on stderr, no output written.</summary>
    public const int BadInput = 2;
}
