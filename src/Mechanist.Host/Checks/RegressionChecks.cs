using Mechanist.Validators;

namespace Mechanist.Host.Checks;

/// <summary>
/// MECH5xxx: regressions against the committed baseline (<c>mechanist.baseline.json</c>, written by
/// <c>mechanist check --update-baseline</c>), the analogue of PublicAPI.Shipped.txt. The host compares every value
/// the validators measured with the accepted release's. A check's threshold is its tolerance.
/// </summary>
public static class RegressionChecks
{
    const string Relative =
        "r = (b − v) / max(|b|, 0.01) for a measured value v whose check prefers higher values, (v − b) / max(|b|, 0.01) for one that prefers lower, b the baseline's value; reported when r > tolerance (the threshold)";

    const string Message = "{0} ({1}) is {2:0.####}, {3:0.####} in the baseline: {4:0.#%} worse, beyond the tolerance {5:0.#%}";

    public static readonly CheckDescriptor DecompositionRegressed = new(
        "MECH5001", "Decomposition quality regressed", Message, "Regression", Severity.Warning, CheckDescriptor.DocPath("MECH5001"),
        Relative + "; over the values of MECH1xxx checks (explained variance, L0, dead and dense latents, CE-loss score, KL) and plugins' checks of category Decomposition", DefaultThreshold: 0.02);

    public static readonly CheckDescriptor FeatureDied = new(
        "MECH5002", "A feature alive in the baseline is dead",
        "feature {0} never fires now; in the baseline it fired", "Regression", Severity.Warning, CheckDescriptor.DocPath("MECH5002"),
        "a latent with f_i = 0 on every activation row now (MECH1003 measured it dead) that the baseline's MECH1003 did not list as dead; no threshold");

    public static readonly CheckDescriptor AttributionRegressed = new(
        "MECH5003", "Attribution faithfulness regressed", Message, "Regression", Severity.Warning, CheckDescriptor.DocPath("MECH5003"),
        Relative + "; over the values of MECH2xxx checks (completeness error, patching agreement) and plugins' checks of category Attribution", DefaultThreshold: 0.1);

    public static readonly CheckDescriptor CausalRegressed = new(
        "MECH5004", "Causal evidence regressed", Message, "Regression", Severity.Warning, CheckDescriptor.DocPath("MECH5004"),
        Relative + "; over the values of MECH3xxx checks (the behaviour the credited features remove, what random features remove) and plugins' checks of category Causal", DefaultThreshold: 0.1);

    public static readonly CheckDescriptor InterpretationRegressed = new(
        "MECH5005", "Explanation consistency regressed", Message, "Regression", Severity.Warning, CheckDescriptor.DocPath("MECH5005"),
        Relative + "; over the values of MECH4xxx checks (held-out correlation of each feature's explanation) and plugins' checks of category Interpretation", DefaultThreshold: 0.1);

    public static readonly CheckDescriptor MeasurementMissing = new(
        "MECH5006", "A baseline measurement was not made",
        "{0} ({1}) was measured in the baseline ({2:0.####}) but not in this run", "Regression", Severity.Warning, CheckDescriptor.DocPath("MECH5006"),
        "a value of the baseline (check, validation, decomposition, behaviour, site; aggregate values only) that no validator measured in this run; no threshold");

    public static readonly CheckDescriptor OtherRegressed = new(
        "MECH5007", "A measured value regressed", Message, "Regression", Severity.Warning, CheckDescriptor.DocPath("MECH5007"),
        Relative + "; over the values of other checks (infrastructure, and plugins' checks of other categories)", DefaultThreshold: 0.05);

    public static IReadOnlyList<CheckDescriptor> All { get; } =
        [DecompositionRegressed, FeatureDied, AttributionRegressed, CausalRegressed, InterpretationRegressed, MeasurementMissing, OtherRegressed];

    /// <summary>
    /// The regression check that watches the values of <paramref name="check"/>: for Mechanist's own, the category its
    /// ID's first digit names (MECH1xxx → MECH5001, …); for a plugin's (its own prefix), its descriptor's category
    /// (Decomposition, Attribution, Causal, Interpretation), else MECH5007.
    /// </summary>
    public static CheckDescriptor For(CheckDescriptor check)
    {
        if (CheckDescriptor.IsMechanistId(check.Id))
            return check.Id[4] switch
            {
                '1' => DecompositionRegressed,
                '2' => AttributionRegressed,
                '3' => CausalRegressed,
                '4' => InterpretationRegressed,
                _ => OtherRegressed,
            };
        return check.Category switch
        {
            "Decomposition" => DecompositionRegressed,
            "Attribution" => AttributionRegressed,
            "Causal" => CausalRegressed,
            "Interpretation" => InterpretationRegressed,
            _ => OtherRegressed,
        };
    }
}
