using System.Numerics;
using System.Runtime.CompilerServices;
using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Sae.CpuKernels;

/// <summary>
/// Element-wise activations of the dense SAE variants on [B, d_sae] matrices, each forward and backward in one pass
/// with their per-latent sums (parameter gradients) taken on the way, instead of a chain of libtorch ops that writes
/// and rereads a [B, d_sae] temporary per op. Rows are split over threads; each part sums its rows' columns and the
/// parts are added in order, so results do not depend on timing.
/// </summary>
internal static unsafe class DenseKernels
{
    /// <summary>Whether the kernels take these tensors (float32 CPU) and may run on this thread.</summary>
    public static bool Apply(params Tensor[] tensors) =>
        TrainingKernels.Enabled && tensors.All(t => t.device_type == TorchSharp.DeviceType.CPU && t.dtype == ScalarType.Float32);

    /// <summary>
    /// Gated SAE: with gate = s + b_gate and mag = s e^r + b_mag, f = 1[gate &gt; 0] ReLU(mag) and π = ReLU(gate); on the
    /// way, which latents fired anywhere in the batch (f &gt; 0 in some row; [d_sae] bool) and how many entries of f are
    /// non-zero, so the activity statistics need no further pass over f.
    /// </summary>
    public static (Tensor F, Tensor Pi, Tensor Fired, long Active) GatedForward(Tensor shared, Tensor bGate, Tensor expR, Tensor bMag)
    {
        var s = shared.contiguous();
        long rows = s.shape[0], cols = s.shape[1];
        var f = empty(rows, cols, ScalarType.Float32);
        var pi = empty(rows, cols, ScalarType.Float32);
        float* sp = TensorMemory.Floats(s), fp = TensorMemory.Floats(f), pp = TensorMemory.Floats(pi);
        float* bg = TensorMemory.Floats(bGate.contiguous()), er = TensorMemory.Floats(expR.contiguous()), bm = TensorMemory.Floats(bMag.contiguous());
        int parts = (int)Math.Max(1, Math.Min(rows / 16, 4L * CpuParallel.Threads));
        var fired = new int[parts, cols];
        var active = new long[parts];
        CpuParallel.For(rows, parts, (part, from, to) =>
        {
            int width = Vector<float>.Count;
            long count = 0;
            fixed (int* firedPart = &fired[part, 0])
                for (long r = from; r < to; r++)
                {
                    float* srow = sp + r * cols, frow = fp + r * cols, prow = pp + r * cols;
                    var rowCount = Vector<int>.Zero;
                    long i = 0;
                    for (; i <= cols - width; i += width)
                    {
                        var sv = Unsafe.ReadUnaligned<Vector<float>>(srow + i);
                        var gate = sv + Unsafe.ReadUnaligned<Vector<float>>(bg + i);
                        var mag = sv * Unsafe.ReadUnaligned<Vector<float>>(er + i) + Unsafe.ReadUnaligned<Vector<float>>(bm + i);
                        var open = Vector.GreaterThan(gate, Vector<float>.Zero);
                        Unsafe.WriteUnaligned(prow + i, Vector.ConditionalSelect(open, gate, Vector<float>.Zero));
                        var on = Vector.BitwiseAnd(open, Vector.GreaterThan(mag, Vector<float>.Zero));
                        Unsafe.WriteUnaligned(frow + i, Vector.ConditionalSelect(on, mag, Vector<float>.Zero));
                        // A true lane is all ones (−1 as an int): subtracting counts it, or-ing marks the latent.
                        rowCount -= on;
                        Unsafe.WriteUnaligned(firedPart + i, Unsafe.ReadUnaligned<Vector<int>>(firedPart + i) | on);
                    }
                    count += Vector.Sum(rowCount);
                    for (; i < cols; i++)
                    {
                        float gate = srow[i] + bg[i], mag = srow[i] * er[i] + bm[i];
                        prow[i] = gate > 0 ? gate : 0;
                        bool on = gate > 0 && mag > 0;
                        frow[i] = on ? mag : 0;
                        if (on)
                        {
                            count++;
                            firedPart[i] = -1;
                        }
                    }
                }
            active[part] = count;
        });
        var any = new bool[cols];
        for (int p = 0; p < parts; p++)
            for (long i = 0; i < cols; i++) any[i] |= fired[p, i] != 0;
        return (f, pi, tensor(any), active.Sum());
    }

    /// <summary>
    /// The gated activation's backward pass, magnitude path, in place: <paramref name="grad"/> holds g_f on entry and
    /// 1[f &gt; 0] e^r g_f on return (the magnitude path's part of ∂s). It works from the output f: the magnitude path is
    /// active where f &gt; 0, and there s e^r = f − b_mag. Per latent, ∂r = Σ_b 1[f &gt; 0] g_f (f − b_mag) and
    /// ∂b_mag = Σ_b 1[f &gt; 0] g_f. Once this has run f is no longer needed, and its buffer can take g_π.
    /// </summary>
    public static (Tensor R, Tensor BMag) GatedMagnitudeBackward(Tensor grad, Tensor latents, Tensor expR, Tensor bMag)
    {
        long rows = latents.shape[0], cols = latents.shape[1];
        float* gp = TensorMemory.Floats(grad), fp = TensorMemory.Floats(latents.contiguous());
        float* er = TensorMemory.Floats(expR.contiguous()), bm = TensorMemory.Floats(bMag.contiguous());
        int parts = PartsFor(rows);
        var sums = new float[parts, 2, cols];
        CpuParallel.For(rows, parts, (part, from, to) =>
        {
            int width = Vector<float>.Count;
            fixed (float* partSums = &sums[part, 0, 0])
            {
                float* sumR = partSums, sumMag = partSums + cols;
                for (long r = from; r < to; r++)
                {
                    float* frow = fp + r * cols, grow = gp + r * cols;
                    long i = 0;
                    for (; i <= cols - width; i += width)
                    {
                        var fv = Unsafe.ReadUnaligned<Vector<float>>(frow + i);
                        var through = Vector.ConditionalSelect(Vector.GreaterThan(fv, Vector<float>.Zero),
                            Unsafe.ReadUnaligned<Vector<float>>(grow + i), Vector<float>.Zero);
                        Unsafe.WriteUnaligned(grow + i, through * Unsafe.ReadUnaligned<Vector<float>>(er + i));
                        Unsafe.WriteUnaligned(sumR + i, Unsafe.ReadUnaligned<Vector<float>>(sumR + i)
                            + through * (fv - Unsafe.ReadUnaligned<Vector<float>>(bm + i)));
                        Unsafe.WriteUnaligned(sumMag + i, Unsafe.ReadUnaligned<Vector<float>>(sumMag + i) + through);
                    }
                    for (; i < cols; i++)
                    {
                        float fv = frow[i], through = fv > 0 ? grow[i] : 0;
                        grow[i] = through * er[i];
                        sumR[i] += through * (fv - bm[i]);
                        sumMag[i] += through;
                    }
                }
            }
        });
        var totals = Reduce(sums, parts, 2, cols);
        return (totals[0], totals[1]);
    }

    /// <summary>
    /// The gated activation's backward pass, gate path: adds 1[π &gt; 0] (g_π + c) to <paramref name="gradShared"/> in place
    /// (the gate's step passes no gradient) and returns ∂b_gate = Σ_b 1[π &gt; 0] (g_π + c). c is a per-latent term added
    /// to every row, the gradient of a penalty on π's column sums (such as the decoder-norm-weighted L1); a missing g_π
    /// or c counts as zero.
    /// </summary>
    public static Tensor GatedGateBackward(Tensor gradShared, Tensor gateActivity, Tensor? gradPi, Tensor? gradPiPerLatent)
    {
        long rows = gateActivity.shape[0], cols = gateActivity.shape[1];
        float* gsp = TensorMemory.Floats(gradShared), pp = TensorMemory.Floats(gateActivity.contiguous());
        var gpt = gradPi?.contiguous();
        float* gpp = gpt is null ? null : TensorMemory.Floats(gpt);
        var column = gradPiPerLatent?.contiguous();
        float* cp = column is null ? null : TensorMemory.Floats(column);
        int parts = PartsFor(rows);
        var sums = new float[parts, 1, cols];
        if (gpp == null && cp == null) return zeros(cols, ScalarType.Float32);
        CpuParallel.For(rows, parts, (part, from, to) =>
        {
            int width = Vector<float>.Count;
            fixed (float* sumGate = &sums[part, 0, 0])
                for (long r = from; r < to; r++)
                {
                    float* prow = pp + r * cols, grow = gsp + r * cols, gprow = gpp == null ? null : gpp + r * cols;
                    long i = 0;
                    for (; i <= cols - width; i += width)
                    {
                        var g = (gprow != null ? Unsafe.ReadUnaligned<Vector<float>>(gprow + i) : Vector<float>.Zero)
                            + (cp != null ? Unsafe.ReadUnaligned<Vector<float>>(cp + i) : Vector<float>.Zero);
                        var through = Vector.ConditionalSelect(Vector.GreaterThan(Unsafe.ReadUnaligned<Vector<float>>(prow + i), Vector<float>.Zero),
                            g, Vector<float>.Zero);
                        Unsafe.WriteUnaligned(grow + i, Unsafe.ReadUnaligned<Vector<float>>(grow + i) + through);
                        Unsafe.WriteUnaligned(sumGate + i, Unsafe.ReadUnaligned<Vector<float>>(sumGate + i) + through);
                    }
                    for (; i < cols; i++)
                    {
                        if (!(prow[i] > 0)) continue;
                        float g = (gprow != null ? gprow[i] : 0) + (cp != null ? cp[i] : 0);
                        grow[i] += g;
                        sumGate[i] += g;
                    }
                }
        });
        return Reduce(sums, parts, 1, cols)[0];
    }

    /// <summary>JumpReLU: f = z 1[z &gt; θ].</summary>
    public static Tensor JumpReluForward(Tensor pre, Tensor theta)
    {
        var z = pre.contiguous();
        long rows = z.shape[0], cols = z.shape[1];
        var f = empty(rows, cols, ScalarType.Float32);
        float* zp = TensorMemory.Floats(z), fp = TensorMemory.Floats(f), tp = TensorMemory.Floats(theta.contiguous());
        CpuParallel.For(rows, 16, (from, to) =>
        {
            int width = Vector<float>.Count;
            for (long r = from; r < to; r++)
            {
                float* zrow = zp + r * cols, frow = fp + r * cols;
                long i = 0;
                for (; i <= cols - width; i += width)
                {
                    var zv = Unsafe.ReadUnaligned<Vector<float>>(zrow + i);
                    var on = Vector.GreaterThan(zv, Unsafe.ReadUnaligned<Vector<float>>(tp + i));
                    Unsafe.WriteUnaligned(frow + i, Vector.ConditionalSelect(on, zv, Vector<float>.Zero));
                }
                for (; i < cols; i++) frow[i] = zrow[i] > tp[i] ? zrow[i] : 0;
            }
        });
        return f;
    }

    /// <summary>
    /// JumpReLU's backward: ∂z = g 1[z &gt; θ]; per latent ∂θ = −(θ/ε) Σ_b g K((z − θ)/ε), K(u) = 1[|u| &lt; ½].
    /// </summary>
    public static (Tensor Pre, Tensor Theta) JumpReluBackward(Tensor pre, Tensor theta, Tensor grad, double bandwidth)
    {
        var z = pre.contiguous();
        var g = grad.contiguous();
        long rows = z.shape[0], cols = z.shape[1];
        var gz = empty(rows, cols, ScalarType.Float32);
        float* zp = TensorMemory.Floats(z), gp = TensorMemory.Floats(g), gzp = TensorMemory.Floats(gz);
        var th = theta.contiguous();
        float* tp = TensorMemory.Floats(th);
        float half = (float)(bandwidth / 2);
        int parts = PartsFor(rows);
        var sums = new float[parts, 1, cols];
        CpuParallel.For(rows, parts, (part, from, to) =>
        {
            fixed (float* sum = &sums[part, 0, 0])
                for (long r = from; r < to; r++)
                {
                    float* zrow = zp + r * cols, grow = gp + r * cols, orow = gzp + r * cols;
                    for (long i = 0; i < cols; i++)
                    {
                        float zv = zrow[i], t = tp[i];
                        orow[i] = zv > t ? grow[i] : 0;
                        if (MathF.Abs(zv - t) < half) sum[i] += grow[i];
                    }
                }
        });
        var kernel = Reduce(sums, parts, 1, cols)[0];
        return (gz, kernel.mul_(th).TimesInPlace(-1.0 / bandwidth));
    }

    /// <summary>The mean number of latents above their threshold per row, Σ_bi 1[z &gt; θ] / B (JumpReLU's L0).</summary>
    public static double CountAbove(Tensor pre, Tensor theta)
    {
        var z = pre.contiguous();
        long rows = z.shape[0], cols = z.shape[1];
        float* zp = TensorMemory.Floats(z), tp = TensorMemory.Floats(theta.contiguous());
        int parts = PartsFor(rows);
        var counts = new long[parts];
        CpuParallel.For(rows, parts, (part, from, to) =>
        {
            long count = 0;
            for (long r = from; r < to; r++)
            {
                float* zrow = zp + r * cols;
                for (long i = 0; i < cols; i++) if (zrow[i] > tp[i]) count++;
            }
            counts[part] = count;
        });
        return (double)counts.Sum() / rows;
    }

    /// <summary>∂L0/∂θ for L0 = Σ_bi 1[z &gt; θ] / B with upstream gradient g: −(g / (B ε)) Σ_b K((z − θ)/ε) per latent.</summary>
    public static Tensor CountAboveBackward(Tensor pre, Tensor theta, double grad, double bandwidth)
    {
        var z = pre.contiguous();
        long rows = z.shape[0], cols = z.shape[1];
        float* zp = TensorMemory.Floats(z), tp = TensorMemory.Floats(theta.contiguous());
        float half = (float)(bandwidth / 2);
        int parts = PartsFor(rows);
        var sums = new float[parts, 1, cols];
        CpuParallel.For(rows, parts, (part, from, to) =>
        {
            fixed (float* sum = &sums[part, 0, 0])
                for (long r = from; r < to; r++)
                {
                    float* zrow = zp + r * cols;
                    for (long i = 0; i < cols; i++) if (MathF.Abs(zrow[i] - tp[i]) < half) sum[i] += 1;
                }
        });
        return Reduce(sums, parts, 1, cols)[0].TimesInPlace(-grad / (rows * bandwidth));
    }

    static int PartsFor(long rows) => (int)Math.Max(1, Math.Min(rows, 2L * CpuParallel.Threads));

    /// <summary>Adds the parts' per-latent sums in part order.</summary>
    static Tensor[] Reduce(float[,,] sums, int parts, int count, long cols)
    {
        var result = new Tensor[count];
        for (int c = 0; c < count; c++)
        {
            var total = new float[cols];
            for (int p = 0; p < parts; p++)
                for (long i = 0; i < cols; i++) total[i] += sums[p, c, i];
            result[c] = tensor(total);
        }
        return result;
    }
}
