using Mechanist.Concepts;
using Mechanist.Methods.Concepts;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Methods.Validators;

/// <summary>
/// What a concept validator reads from its context and options, resolved once: the token ids
/// (the context's, else the ones stored with the labels) and the per-token activations at sites (harvested from the
/// model, else the context's activations for its one site).
/// </summary>
internal static class ConceptInputs
{
    /// <summary>The token ids [n_seq, seq_len]: the context's, else the labels file's; checked against the labels.</summary>
    public static Tensor? Tokens(ValidationContext context, ConceptLabels labels)
    {
        var tokens = context.Tokens ?? labels.Tokens;
        if (tokens is not null) labels.RequireRows(tokens.numel(), $"the token ids [{string.Join(", ", tokens.shape)}]");
        return tokens;
    }

    /// <summary>
    /// <see cref="Tokens"/>, or null after telling the context the validator cannot run without them (MECH0013).
    /// </summary>
    public static Tensor? RequiredTokens(ValidationContext context, ConceptLabels labels)
    {
        if (Tokens(context, labels) is { } tokens) return tokens;
        context.CannotRun($"it needs the token ids the labels describe: {labels.Source} holds no 'tokens' tensor and the activations were not harvested from token ids.");
        return null;
    }

    /// <summary>The concept and class named by the options (the class may be omitted when <paramref name="classRequired"/> is false).</summary>
    public static (Concept Concept, int Class) Claim(ConceptLabels labels, ConceptOptions options, string validator, bool classRequired = true)
    {
        if (string.IsNullOrWhiteSpace(options.Concept))
            throw new MechanistInputException($"{validator}: option 'concept' is empty; name the concept the claim is about (one of {string.Join(", ", labels.Names)}).");
        var concept = labels[options.Concept];
        concept.RequireTwoClasses(labels.Source);
        if (string.IsNullOrWhiteSpace(options.Class))
        {
            if (classRequired)
                throw new MechanistInputException($"{validator}: option 'class' is empty; name the class of '{concept.Name}' the claim is about (one of {string.Join(", ", concept.Classes)}).");
            return (concept, -1);
        }
        return (concept, concept.ClassIndex(options.Class));
    }

    /// <summary>
    /// Per-token activations [N, d] at <paramref name="site"/>: harvested from the model over the tokens when both are
    /// there, else the context's activations when they are for this site. Null when neither is available.
    /// </summary>
    public static Tensor? Rows(ValidationContext context, Tensor? tokens, string site)
    {
        if (context.Model is { } model && tokens is not null)
            return SiteActivations.Harvest(model, tokens, [site], cancellation: context.CancellationToken)[site];
        if (context.Activations is { } source && (context.Site is null || context.Site == site))
        {
            var parts = new List<Tensor>();
            foreach (var batch in source.ReadBatches(8192)) parts.Add(batch.clone());
            var all = cat(parts, 0);
            foreach (var p in parts) p.Dispose();
            return all;
        }
        return null;
    }
}
