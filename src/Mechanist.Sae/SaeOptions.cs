using Mechanist.Options;

namespace Mechanist.Sae;

/// <summary>How activations are scaled before training (the factor is folded into the saved weights).</summary>
public enum ActivationNormalization
{
    /// <summary>Scale each site so that E‖x‖² = d (its width), estimated on the first training batches.</summary>
    ExpectedNorm,

    /// <summary>Train on the activations as they are.</summary>
    None,
}

/// <summary>How the decoder bias b_dec starts.</summary>
public enum DecoderBiasInit
{
    /// <summary>The geometric median of a sample of the (target) activations (Weiszfeld's algorithm).</summary>
    GeometricMedian,

    /// <summary>The mean of the sample.</summary>
    Mean,

    Zeros,
}

/// <summary>
/// The options every SAE-family decomposer takes (the one trainer reads them): size, optimisation schedule,
/// normalisation, dead-latent window and checkpoints. Each variant's record adds its own terms.
/// </summary>
public abstract record SaeOptions : MethodOptions
{
    [Option("Number of latents d_sae; 0 means expansion_factor x d_in.")]
    public int DSae { get; init; }

    [Option("Latents per input dimension when d_sae is 0.")]
    public int ExpansionFactor { get; init; } = 8;

    [Option("Optimisation steps (one batch each).")]
    public int Steps { get; init; } = 1000;

    [Option("Rows per batch (capped at the number of rows available).")]
    public int BatchSize { get; init; } = 4096;

    [Option("Adam learning rate (peak, after warm-up).")]
    public double Lr { get; init; } = 1e-3;

    [Option("Fraction of the steps spent warming the learning rate up linearly from 0 (the TopK family defaults to 0: a constant rate).")]
    public double LrWarmupFraction { get; init; } = 0.05;

    [Option("Fraction of the steps, at the end, over which the learning rate decays linearly to 0 (the TopK family defaults to 0: a constant rate).")]
    public double LrDecayFraction { get; init; } = 0.2;

    [Option("Adam beta1.")]
    public double Beta1 { get; init; } = 0.9;

    [Option("Adam beta2.")]
    public double Beta2 { get; init; } = 0.999;

    [Option("Clip the global gradient norm to this value; 0 disables clipping.")]
    public double GradClip { get; init; } = 1.0;

    [Option("Activation normalisation: expected_norm scales inputs (and targets) so that E||x||^2 = d, folded into the saved weights; none trains on raw values.")]
    public ActivationNormalization Normalization { get; init; } = ActivationNormalization.ExpectedNorm;

    [Option("Initial decoder bias: geometric_median, mean or zeros of a sample of the (target) activations.")]
    public DecoderBiasInit BDecInit { get; init; } = DecoderBiasInit.GeometricMedian;

    [Option("Batches held in the shuffle buffer (rows are shuffled within it, seeded).")]
    public int ShuffleBuffer { get; init; } = 8;

    [Option("A latent counts as dead after this many training rows without firing.")]
    public long DeadAfterRows { get; init; } = 1_000_000;

    [Option("Write a checkpoint every this many steps; 0 disables checkpoints.")]
    public int CheckpointEvery { get; init; }

    [Option("Folder for checkpoints; a run with the same data, options and seed resumes from the latest one there.")]
    public string CheckpointDir { get; init; } = "";

    public override IEnumerable<OptionError> Validate()
    {
        if (DSae < 0) yield return new("d_sae", $"must be at least 0 (0 = expansion_factor x d_in), got {DSae}");
        if (ExpansionFactor < 1) yield return new("expansion_factor", $"must be at least 1, got {ExpansionFactor}");
        if (Steps < 1) yield return new("steps", $"must be at least 1, got {Steps}");
        if (BatchSize < 1) yield return new("batch_size", $"must be at least 1, got {BatchSize}");
        if (!(Lr > 0)) yield return new("lr", $"must be positive, got {Lr}");
        if (LrWarmupFraction is < 0 or > 1) yield return new("lr_warmup_fraction", $"must be in [0, 1], got {LrWarmupFraction}");
        if (LrDecayFraction is < 0 or > 1) yield return new("lr_decay_fraction", $"must be in [0, 1], got {LrDecayFraction}");
        if (LrWarmupFraction + LrDecayFraction > 1)
            yield return new("lr_decay_fraction", $"warm-up ({LrWarmupFraction}) and decay ({LrDecayFraction}) fractions add up to more than 1");
        if (Beta1 is < 0 or >= 1) yield return new("beta1", $"must be in [0, 1), got {Beta1}");
        if (Beta2 is < 0 or >= 1) yield return new("beta2", $"must be in [0, 1), got {Beta2}");
        if (GradClip < 0) yield return new("grad_clip", $"must be at least 0 (0 = off), got {GradClip}");
        if (ShuffleBuffer < 1) yield return new("shuffle_buffer", $"must be at least 1, got {ShuffleBuffer}");
        if (DeadAfterRows < 1) yield return new("dead_after_rows", $"must be at least 1, got {DeadAfterRows}");
        if (CheckpointEvery < 0) yield return new("checkpoint_every", $"must be at least 0 (0 = off), got {CheckpointEvery}");
        if (CheckpointEvery > 0 && string.IsNullOrWhiteSpace(CheckpointDir))
            yield return new("checkpoint_dir", "is required when checkpoint_every is set");
    }

    /// <summary>d_sae for inputs of width <paramref name="dIn"/>.</summary>
    public int LatentsFor(int dIn) => DSae > 0 ? DSae : checked(ExpansionFactor * dIn);
}

/// <summary>Options of the variants with a sparsity penalty (L1 or L0) instead of a hard TopK.</summary>
public abstract record PenalizedSaeOptions : SaeOptions
{
    [Option("Coefficient of the sparsity penalty (its form depends on the variant).")]
    public double SparsityCoefficient { get; init; } = 1.0;

    [Option("Fraction of the steps over which the sparsity coefficient warms up linearly from 0.")]
    public double SparsityWarmupFraction { get; init; } = 0.05;

    [Option("Resample dead latents every this many steps (towards badly reconstructed inputs); 0 disables resampling.")]
    public int ResampleEvery { get; init; }

    [Option("Adapt the sparsity coefficient during training so that the batches' mean L0 lands at this value (starting from sparsity_coefficient); 0 keeps the coefficient fixed.")]
    public double TargetL0 { get; init; }

    [Option("Factor on the learning rate of the parameter that sets each latent's firing threshold (b_enc; JumpReLU's log theta; gated's b_gate). Adam moves a parameter by about lr per step, and thresholds must travel to the scale of the interference between features within the step budget.")]
    public double ThresholdLrScale { get; init; } = 10;

    public override IEnumerable<OptionError> Validate()
    {
        foreach (var e in base.Validate()) yield return e;
        if (SparsityCoefficient < 0) yield return new("sparsity_coefficient", $"must be at least 0, got {SparsityCoefficient}");
        if (TargetL0 < 0 || double.IsNaN(TargetL0)) yield return new("target_l0", $"must be at least 0 (0 = off), got {TargetL0}");
        if (!(ThresholdLrScale > 0)) yield return new("threshold_lr_scale", $"must be positive, got {ThresholdLrScale}");
        if (TargetL0 > 0 && SparsityCoefficient == 0)
            yield return new("sparsity_coefficient", "must be positive when target_l0 is set (the adaptation scales it)");
        if (DSae > 0 && TargetL0 >= DSae) yield return new("target_l0", $"is {TargetL0}, not below the dictionary size (d_sae = {DSae})");
        if (SparsityWarmupFraction is < 0 or > 1) yield return new("sparsity_warmup_fraction", $"must be in [0, 1], got {SparsityWarmupFraction}");
        if (ResampleEvery < 0) yield return new("resample_every", $"must be at least 0 (0 = off), got {ResampleEvery}");
    }
}

/// <summary>Options of the TopK family (TopK, BatchTopK, Matryoshka).</summary>
public abstract record TopKFamilyOptions : SaeOptions
{
    /// <summary>
    /// A constant learning rate: no warm-up, no decay. On correlated superposition sets the warm-up and the decay over
    /// the last fifth of the budget cost the TopK family 1.1–1.5× the steps to MMCS 0.97, and a worse FVU and MMCS after
    /// the default 1,000 steps (docs/performance.md, time to quality). The penalised variants keep their schedule.
    /// </summary>
    protected TopKFamilyOptions()
    {
        LrWarmupFraction = 0;
        LrDecayFraction = 0;
    }

    [Option("Active latents per row (BatchTopK: on average over the batch).")]
    public int K { get; init; } = 32;

    [Option("Coefficient alpha of the AuxK loss on dead latents (Gao et al. use 1/32).")]
    public double AuxkCoefficient { get; init; } = 1.0 / 32;

    [Option("Dead latents the AuxK loss decodes per row; 0 means d_in / 2.")]
    public int AuxkK { get; init; }

    [Option("Decode by gathering the active decoder rows with sparse gradients (false: dense matmul, for comparison).")]
    public bool SparseDecode { get; init; } = true;

    public override IEnumerable<OptionError> Validate()
    {
        foreach (var e in base.Validate()) yield return e;
        if (K < 1) yield return new("k", $"must be at least 1, got {K}");
        if (DSae > 0 && K > DSae) yield return new("k", $"is {K}, larger than the dictionary (d_sae = {DSae})");
        if (AuxkCoefficient < 0) yield return new("auxk_coefficient", $"must be at least 0, got {AuxkCoefficient}");
        if (AuxkK < 0) yield return new("auxk_k", $"must be at least 0 (0 = d_in / 2), got {AuxkK}");
    }
}
