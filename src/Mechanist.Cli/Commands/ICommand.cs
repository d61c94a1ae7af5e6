using Mechanist.Cli.CommandLine;

namespace Mechanist.Cli.Commands;

/// <summary>One verb of the command line.</summary>
public interface ICommand
{
    /// <summary>The verb, possibly two words (<c>plugins list</c>).</summary>
    string Name { get; }

    string Summary { get; }

    /// <summary>Usage line after <c>mechanist NAME</c>.</summary>
    string Usage { get; }

    IReadOnlyList<OptionSpec> Options { get; }

    /// <summary>How many positional arguments the verb takes (<c>check CONFIG</c> takes one).</summary>
    int MaxPositionals => 0;

    int Run(ParsedArguments args, CommandEnvironment env);
}

/// <summary>Where a command writes, and the switches every command shares.</summary>
public sealed record CommandEnvironment(TextWriter Out, TextWriter Error, bool Verbose);
