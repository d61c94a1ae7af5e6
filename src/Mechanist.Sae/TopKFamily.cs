using TorchSharp;
using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Sae;

/// <summary>
/// The encode, decode and AuxK terms the TopK variants share, each with a sparse path (gather the active decoder
/// rows, gradients only for active latents) and a dense path (a [B, d_sae] latent matrix and dense matmuls, kept
/// for the benchmark's side-by-side comparison). Both compute the same function.
/// </summary>
public static class TopKFamily
{
    /// <summary>
    /// One batch encoded: the selected latents (pre-activation values, before the ReLU), the AuxK candidates among
    /// dead latents (null when none are dead or AuxK is off), and, on the dense path only, the full pre-activation
    /// matrix with its gradient.
    /// </summary>
    public sealed record Encoded(SparseLatents Selected, SparseLatents? Aux, Tensor? Pre);

    /// <summary>
    /// Encodes a batch and selects its active latents: k per row (<paramref name="batchWide"/> false, TopK) or the
    /// k·B largest of the batch (BatchTopK), plus each row's AuxK candidates, the k_aux largest pre-activations among
    /// dead latents (k_aux = <paramref name="auxK"/>, default d_in / 2, at most the dead count). On the CPU the sparse
    /// path never holds the [B, d_sae] matrix: a blocked encoder keeps running selections
    /// (<see cref="CpuKernels.BlockedTopKEncoder"/>). Elsewhere, or with <see cref="TrainingKernels.TorchOpsOnly"/>,
    /// the matrix is computed whole (without gradient, in a buffer reused between steps) and selected with topk.
    /// </summary>
    public static Encoded Encode(SaeParameters p, Tensor centered, int k, bool batchWide, StepState state, int auxK, double auxCoefficient, bool sparse)
    {
        int kAux = 0;
        int[] dead = [];
        if (state.DeadMask is not null && auxCoefficient != 0)
        {
            kAux = Math.Min(AuxKBase(auxK, centered), state.DeadCount);
            if (sparse && UseKernels(p, centered))
                dead = state.DeadMask.nonzero().reshape(-1).to(ScalarType.Int32).data<int>().ToArray();
        }
        if (sparse && UseKernels(p, centered))
        {
            // BatchTopK starts a little below the last step's (k·B)-th largest value; the selection is exact either way.
            float start = batchWide && p.BatchThresholdHint is float last ? last - 0.1f * Math.Abs(last) - 1e-6f : float.NegativeInfinity;
            var blocked = CpuKernels.BlockedTopKEncoder.Encode(centered, p.EncoderRows, p.EncoderBias, k, batchWide, dead, kAux, p,
                startThreshold: start);
            if (blocked.BatchThreshold is float threshold) p.BatchThresholdHint = threshold;
            return new Encoded(blocked.Selected, blocked.Aux, null);
        }
        var pre = PreActivations(p, centered, sparse);
        SparseLatents selected;
        if (batchWide) selected = BatchTopK(pre.detach(), k);
        else
        {
            var (values, indices) = pre.detach().topk(Math.Min(k, p.Latents), dim: 1, sorted: false);
            selected = SparseLatents.FromTopK(indices, values, p.Latents);
        }
        SparseLatents? aux = null;
        if (kAux > 0)
        {
            using var _ = no_grad();
            using var minusInfinity = double.NegativeInfinity.ToScalar();
            var masked = pre.detach().masked_fill(state.DeadMask!.logical_not().unsqueeze(0), minusInfinity);
            var (values, indices) = masked.topk(kAux, dim: 1, sorted: false);
            aux = SparseLatents.FromTopK(indices, values, p.Latents);
        }
        return new Encoded(selected, aux, sparse ? null : pre);
    }

    /// <summary>Whether the CPU kernels run for this batch (float32 on the CPU, kernels not switched off).</summary>
    internal static bool UseKernels(SaeParameters p, Tensor centered) =>
        TrainingKernels.Enabled && CpuKernels.TensorMemory.Fits(p.EncoderRows) && centered.device_type == TorchSharp.DeviceType.CPU
        && centered.dtype == ScalarType.Float32 && (p.EncoderBias is null || CpuKernels.TensorMemory.Fits(p.EncoderBias));

    static int AuxKBase(int auxK, Tensor centered) => auxK > 0 ? auxK : Math.Max(1, (int)centered.shape[1] / 2);

    /// <summary>
    /// The dense pre-activations z = (x − b_dec) W_enc + b_enc, [B, d_sae]. On the sparse path they carry no gradient
    /// and are written into a buffer reused from step to step (valid until the next step).
    /// </summary>
    public static Tensor PreActivations(SaeParameters p, Tensor centered, bool sparse)
    {
        if (!sparse) return nn.functional.linear(centered, p.EncoderRows, p.EncoderBias);
        using var _ = no_grad();
        var pre = p.Workspace("pre_activations", [centered.shape[0], p.Latents], centered.dtype, centered.device);
        pre.addmm_(centered.detach(), p.EncoderRows.t(), beta: 0, alpha: 1);
        if (p.EncoderBias is not null) pre.PlusInPlace(p.EncoderBias);
        return pre.alias();
    }

    /// <summary>
    /// The selected latents' values through a ReLU, differentiable: on the sparse path the gradient flows only to
    /// the selected encoder rows (and to b_dec through the centring), on the dense path through autograd's gather.
    /// </summary>
    public static Tensor ActiveValues(SaeParameters p, SparseLatents selected, Tensor? pre, Tensor centered, bool sparse, bool centersInput)
    {
        if (!sparse) return nn.functional.relu(pre!.reshape(-1).index_select(0, FlatIndex(selected)));
        var values = SparseOps.GatherPreActivations(selected, selected.Values, centered.detach(), p.EncoderRows,
            p.EncoderBias!, centersInput ? p.DecoderBias : null);
        return nn.functional.relu(values);
    }

    /// <summary>Σ_n values[n] W_dec[columns[n]] per row (no bias): a gather on the sparse path, a dense matmul otherwise.</summary>
    public static Tensor Decode(SaeParameters p, SparseLatents latents, Tensor values, bool sparse)
    {
        if (sparse) return SparseOps.Decode(latents, values, p.DecoderRows);
        var dense = zeros(latents.BatchSize * latents.Latents, values.dtype, values.device)
            .scatter(0, FlatIndex(latents), values).view(latents.BatchSize, latents.Latents);
        return dense.matmul(p.DecoderRows);
    }

    static Tensor FlatIndex(SparseLatents latents) => latents.Rows.Times(latents.Latents).Plus(latents.Columns);

    /// <summary>Which latents fired (value &gt; 0) anywhere in the batch, [d_sae] bool.</summary>
    public static Tensor Fired(SparseLatents latents, Tensor values)
    {
        using var _ = no_grad();
        var active = latents.Columns.masked_select(values.detach().Positive());
        return zeros(latents.Latents, ScalarType.Bool, values.device).index_fill_(0, active, True);
    }

    /// <summary>Mean number of non-zero latents per row.</summary>
    public static Tensor L0(SparseLatents latents, Tensor values) =>
        values.detach().Positive().sum().to(ScalarType.Float32).Over(latents.BatchSize);

    /// <summary>
    /// AuxK (Gao et al. 2024): the AuxK candidates of <see cref="Encode"/> (each row's k_aux largest pre-activations
    /// among dead latents) decode the detached residual e = y − ŷ;
    /// loss = α · min(dead / k_aux, 1) · Σ‖ê − e‖² / Σ‖y − ȳ‖², k_aux before capping at the dead count. Zero when no
    /// latent is dead.
    /// </summary>
    public static Tensor AuxK(SaeParameters p, Encoded encoded, Tensor centered, TrainingBatch batch, Tensor reconstruction,
        StepState state, int auxK, double alpha, bool sparse, bool centersInput)
    {
        if (encoded.Aux is null || state.DeadMask is null || alpha == 0) return zeros(1, device: centered.device).squeeze();
        int baseK = AuxKBase(auxK, centered);
        double scale = Math.Min((double)state.DeadCount / baseK, 1.0);
        var active = ActiveValues(p, encoded.Aux, encoded.Pre, centered, sparse, centersInput);
        var residual = (batch.Y - reconstruction).detach();
        var estimate = Decode(p, encoded.Aux, active, sparse);
        return ((estimate - residual).Squared().sum() / batch.TotalVariance.AtLeast(1e-12)).Times(alpha * scale);
    }

    /// <summary>
    /// BatchTopK selection: the k·B largest ReLU(z) over the whole batch, exactly, without a sort or a per-row TopK
    /// over all B·d_sae entries. A strided sample of the entries gives a threshold τ meant to sit a little below the
    /// true (k·B)-th largest value; only entries ≥ τ are gathered and the k·B largest of them are kept. If fewer than
    /// k·B entries reach τ (the sample misjudged), τ is lowered from a larger sample rank and the gathering repeated,
    /// so the result is always the exact selection. Entries come out in row order.
    /// </summary>
    public static SparseLatents BatchTopK(Tensor pre, int k)
    {
        using var _ = no_grad();
        long batch = pre.shape[0], latents = pre.shape[1], n = batch * latents;
        long total = Math.Min(batch * k, n);
        var flat = pre.reshape(-1);
        Tensor chosen;
        long stride = Math.Max(1, n / (16 * total));
        if (stride == 1 || total == n) chosen = flat.topk((int)total, sorted: false).indexes;
        else
        {
            var sample = flat.narrow(0, 0, n / stride * stride).view(n / stride, stride).select(1, 0);
            chosen = null!;
            for (double margin = 1.5; ; margin *= 4)
            {
                long rank = (long)Math.Ceiling(margin * total / stride);
                if (rank >= sample.shape[0])
                {
                    chosen = flat.topk((int)total, sorted: false).indexes;
                    break;
                }
                var threshold = sample.topk((int)rank, sorted: false).values.min();
                var candidates = (flat >= threshold).nonzero().reshape(-1);
                if (candidates.shape[0] < total) continue;
                var local = flat.index_select(0, candidates).topk((int)total, sorted: false).indexes;
                chosen = candidates.index_select(0, local);
                break;
            }
        }
        // In row order: the backward pass's per-entry dot products then read the batch rows in sequence.
        var sorted = chosen.sort().Values;
        var values = nn.functional.relu(flat.index_select(0, sorted));
        using var width = latents.ToScalar();
        return new SparseLatents(sorted.div(width, rounding_mode: RoundingMode.floor), sorted.remainder(width), values, batch, latents);
    }
}
