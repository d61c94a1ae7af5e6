using Mechanist.Cli.CommandLine;
using Mechanist.Concepts;
using Mechanist.Host;
using Mechanist.Host.Discovery;
using Mechanist.Host.Models;
using Mechanist.Models;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// What the <c>concepts …</c> commands share: the options, the labels and the tokens they describe, the model, the
/// method options bound through the concept validator of the same name (so <c>--set</c> takes its names), and the
/// JSON written to <c>--out</c> (atomically, only once everything has been computed).
/// </summary>
internal static class ConceptCommandInputs
{
    public static readonly OptionSpec Model = new("model", "model folder (config.json with model_type + model.safetensors)", ValueName: "DIR");
    public static readonly OptionSpec Labels = new("labels", "concept labels: .safetensors with concept.NAME [n_seq, seq_len] tensors (and the tokens, unless --tokens)", ValueName: "FILE");
    public static readonly OptionSpec Tokens = CommonOptions.Tokens with { Help = $"token ids the labels describe (default: the labels file's 'tokens'): {TokenArgument.Forms}" };

    public static IReadOnlyList<OptionSpec> Common { get; } =
    [
        CommonOptions.Set, CommonOptions.Seed, CommonOptions.Device, CommonOptions.Plugins, CommonOptions.Format,
        CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    /// <summary>The labels and the token ids [n_seq, seq_len] they describe, checked against each other.</summary>
    public static (ConceptLabels Labels, Tensor Tokens) Load(ParsedArguments args)
    {
        var labels = ConceptLabels.Load(args.Require("labels"));
        Tensor tokens;
        if (TokenArgument.Get(args) is { } t) tokens = t.Matrix();
        else tokens = labels.Tokens ?? throw new MechanistInputException(
            $"{labels.Source}: holds no 'tokens' tensor; give the token ids the labels describe with --tokens.");
        labels.RequireRows(tokens.numel(), $"the token ids [{string.Join(", ", tokens.shape)}]");
        return (labels, tokens);
    }

    public static IHookedModel LoadModel(ParsedArguments args, MechanistHost host, Device device, int seed) =>
        ModelFolder.Load(args.Require("model"), host.Catalog, host.Services, device, seed);

    /// <summary>The options of validator <paramref name="validatorId"/> bound from <c>--set</c> (unknown names and bad values are input errors).</summary>
    public static TOptions Options<TOptions>(ParsedArguments args, MechanistHost host, string validatorId) where TOptions : MethodOptions
    {
        var entry = host.Catalog.Resolve(validatorId, MethodKind.Validator);
        return (TOptions)MethodCatalog.BindOptions(entry, args.Settings(validatorId));
    }

    public static IReadOnlyList<string> List(string? text) =>
        text is null ? [] : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
