using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Mechanist.Sae;

/// <summary>
/// Sparse building blocks of the TopK-family training step, with hand-written gradients that touch only the active
/// latents: decoding gathers the active decoder rows instead of multiplying a dense [B, d_sae] matrix, and the
/// encoder's gradient goes only to the active latents' columns. Both are exact: the gradients equal dense autograd's
/// (tests compare them).
/// </summary>
public static class SparseOps
{
    /// <summary>
    /// x̂ = Σ_n values[n] · W[columns[n]] into row rows[n]: the decoder product f W for sparse f. Gradients: values get
    /// ⟨g[rows[n]], W[columns[n]]⟩, W gets Σ_n values[n] g[rows[n]] in row columns[n].
    /// </summary>
    public static Tensor Decode(SparseLatents latents, Tensor values, Tensor decoderRows) =>
        SparseDecodeFunction.apply(values, latents.Rows, latents.Columns, decoderRows, latents.BatchSize, latents.PerRow ?? 0, latents);

    /// <summary>
    /// The active pre-activations (x_c W_encᵀ + b_enc)[rows[n], columns[n]], taken from <paramref name="preValues"/>
    /// (computed without gradient from the dense product), with sparse gradients: row columns[n] of the encoder gets
    /// g[n] x_c[rows[n]], b_enc[columns[n]] gets g[n], and b_dec (x_c = x − b_dec) gets −Σ_n g[n] W_encᵀ[columns[n]].
    /// </summary>
    /// <param name="centered">x − b_dec, [B, d_in], without gradient</param>
    /// <param name="encoderRows">W_encᵀ [d_sae, d_in]</param>
    /// <param name="encoderBias">b_enc [d_sae]</param>
    /// <param name="decoderBias">b_dec [d_in], whose gradient through the input centring this adds; null when the input is not centred</param>
    public static Tensor GatherPreActivations(SparseLatents latents, Tensor preValues, Tensor centered, Tensor encoderRows,
        Tensor encoderBias, Tensor? decoderBias) =>
        SparseEncodeFunction.apply(preValues, latents.Rows, latents.Columns, centered, encoderRows, encoderBias, decoderBias!, latents);

    /// <summary>out[c] = Σ_{n: cols[n] = c} weights[n] · dense[rows[n]]: a sparse [C, B] times dense [B, D] product.</summary>
    internal static Tensor ScatterRows(Tensor rows, Tensor cols, Tensor weights, Tensor dense, long outRows)
    {
        using var scope = NewDisposeScope();
        var indices = stack([cols, rows]);
        var sparse = sparse_coo_tensor(indices, weights, [outRows, dense.shape[0]]);
        return sparse.mm(dense).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// out[n] = ⟨a[rows[n]], b[cols[n]]⟩, in chunks whose gathered rows fit in a core's L2 cache (about 1 MB at
    /// d = 512): measured at d_in 512, 131k entries, larger chunks ran 3-5 times slower.
    /// </summary>
    internal static Tensor SampledDot(Tensor a, Tensor b, Tensor rows, Tensor cols, int perRow)
    {
        long n = rows.shape[0];
        var result = empty(n, a.dtype, a.device);
        long d = a.shape[1];
        if (perRow > 0)
        {
            long batch = a.shape[0];
            long chunkRows = Math.Max(1, 512 / perRow);
            for (long start = 0; start < batch; start += chunkRows)
            {
                using var scope = NewDisposeScope();
                long m = Math.Min(chunkRows, batch - start);
                var colChunk = cols.narrow(0, start * perRow, m * perRow);
                var gathered = b.index_select(0, colChunk).view(m, perRow, d);
                var dots = (gathered * a.narrow(0, start, m).unsqueeze(1)).sum(2);
                result.narrow(0, start * perRow, m * perRow).copy_(dots.view(-1));
            }
        }
        else
        {
            const long chunk = 256;
            for (long start = 0; start < n; start += chunk)
            {
                using var scope = NewDisposeScope();
                long m = Math.Min(chunk, n - start);
                var left = a.index_select(0, rows.narrow(0, start, m));
                var right = b.index_select(0, cols.narrow(0, start, m));
                result.narrow(0, start, m).copy_((left * right).sum(1));
            }
        }
        return result;
    }

    /// <summary>
    /// The gradient buffer of a leaf parameter, when it already has one the kernels can add to: the [d_sae, d]
    /// gradient is then accumulated into it in place (what autograd's accumulation would do) and not returned, which
    /// saves a [d_sae, d] temporary and the copy autograd makes of a gradient it cannot take over. The trainer keeps
    /// its gradient buffers between steps and zeroes them before each backward pass.
    /// </summary>
    static Tensor? GradientBuffer(Tensor parameter)
    {
        if (!parameter.is_leaf || !parameter.requires_grad) return null;
        var grad = parameter.grad;
        return grad is not null && CpuKernels.TensorMemory.Fits(grad) && grad.shape.SequenceEqual(parameter.shape) ? grad : null;
    }

    /// <summary>Whether the CPU kernels replace the libtorch sparse ops for these float32 CPU tensors.</summary>
    static bool UseKernels(Tensor a, Tensor b) =>
        TrainingKernels.Enabled && a.device_type == TorchSharp.DeviceType.CPU && b.device_type == TorchSharp.DeviceType.CPU
        && a.dtype == ScalarType.Float32 && b.dtype == ScalarType.Float32;

    sealed class SparseDecodeFunction : SingleTensorFunction<SparseDecodeFunction>
    {
        public override string Name => nameof(SparseDecodeFunction);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var values = (Tensor)vars[0];
            var rows = (Tensor)vars[1];
            var cols = (Tensor)vars[2];
            var weight = (Tensor)vars[3];
            long batch = (long)vars[4];
            bool kernels = UseKernels(values, weight);
            ctx.save_for_backward([values, rows, cols, weight]);
            ctx.save_data("perRow", (int)vars[5]);
            ctx.save_data("latents", weight.shape[0]);
            ctx.save_data("kernels", kernels);
            ctx.save_data("latentsObject", vars[6]);
            return kernels
                ? CpuKernels.SparseKernels.GatherSum(CpuKernels.SparseKernels.ByRow((SparseLatents)vars[6]), cols, values, weight)
                : ScatterRows(cols, rows, values, weight, batch);
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor grad)
        {
            var saved = ctx.get_saved_variables();
            Tensor values = saved[0], rows = saved[1], cols = saved[2], weight = saved[3];
            if ((bool)ctx.get_data("kernels") && CpuKernels.TensorMemory.Fits(grad.contiguous()))
            {
                var into = GradientBuffer(weight);
                var byColumn = CpuKernels.SparseKernels.ByColumn((SparseLatents)ctx.get_data("latentsObject"));
                var (gradValues, gradWeight) = CpuKernels.SparseKernels.DecodeBackward(byColumn, rows, values, weight, grad.contiguous(), into);
                return [gradValues, null!, null!, into is null ? gradWeight : null!, null!, null!, null!];
            }
            var torchGradValues = SampledDot(grad, weight, rows, cols, (int)ctx.get_data("perRow"));
            var torchGradWeight = ScatterRows(rows, cols, values, grad, (long)ctx.get_data("latents"));
            return [torchGradValues, null!, null!, torchGradWeight, null!, null!, null!];
        }
    }

    sealed class SparseEncodeFunction : SingleTensorFunction<SparseEncodeFunction>
    {
        public override string Name => nameof(SparseEncodeFunction);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var preValues = (Tensor)vars[0];
            var rows = (Tensor)vars[1];
            var cols = (Tensor)vars[2];
            var centered = (Tensor)vars[3];
            var encoderRows = (Tensor)vars[4];
            ctx.save_for_backward([rows, cols, centered, encoderRows]);
            ctx.save_data("centredByBias", vars[6] is Tensor);
            ctx.save_data("kernels", UseKernels(centered, encoderRows));
            ctx.save_data("latentsObject", vars[7]);
            return preValues.clone();
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor grad)
        {
            var saved = ctx.get_saved_variables();
            Tensor rows = saved[0], cols = saved[1], centered = saved[2], encoderRows = saved[3];
            long latents = encoderRows.shape[0];
            Tensor? gradRows;
            if ((bool)ctx.get_data("kernels") && CpuKernels.TensorMemory.Fits(grad.contiguous()))
            {
                var into = GradientBuffer(encoderRows);
                var byColumn = CpuKernels.SparseKernels.ByColumn((SparseLatents)ctx.get_data("latentsObject"));
                var sums = CpuKernels.SparseKernels.GatherSum(byColumn, rows, grad.contiguous(), centered, into);
                gradRows = into is null ? sums : null;
            }
            else gradRows = ScatterRows(rows, cols, grad, centered, latents);
            var gradBias = zeros(latents, grad.dtype, grad.device).index_add_(0, cols, grad, One);
            Tensor? gradDecoderBias = (bool)ctx.get_data("centredByBias") ? gradBias.matmul(encoderRows).neg_() : null;
            return [null!, null!, null!, null!, gradRows!, gradBias, gradDecoderBias!, null!];
        }
    }
}
