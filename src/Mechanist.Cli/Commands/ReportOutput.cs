using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.IO;

namespace Mechanist.Cli.Commands;

/// <summary>
/// How a command that computes one JSON report hands it out: to <c>--out</c> (atomically, once everything has been
/// computed) and to stdout as JSON with <c>--format json</c>, else as the text the command renders.
/// </summary>
static class ReportOutput
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Emit(ParsedArguments args, CommandEnvironment env, JsonObject report, Action<TextWriter> writeText)
    {
        var json = report.ToJsonString(Indented) + "\n";
        if (args.Get("out") is { } path) AtomicFile.WriteText(path, json);
        if (args.GetChoice("format", "text", "text", "json") == "json") env.Out.Write(json);
        else writeText(env.Out);
    }
}
