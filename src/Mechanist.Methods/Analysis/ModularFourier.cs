using static TorchSharp.torch;

namespace Mechanist.Methods.Analysis;

/// <summary>
/// The Fourier basis of Z_p (p odd) and what a modular-arithmetic network looks like in it: the power of a table
/// over Z_p per frequency, of a function over Z_p × Z_p per pair of frequencies, projections that remove
/// frequencies, and the frequency each neuron or feature is tied to (Nanda et al. 2023, Progress measures for grokking).
/// </summary>
public static class ModularFourier
{
    /// <summary>Number of non-constant frequencies, (p − 1) / 2.</summary>
    public static int Frequencies(int p) => (p - 1) / 2;

    /// <summary>
    /// The orthonormal Fourier basis [p, p] (float64), one basis vector per row: row 0 the constant 1/√p, rows
    /// 2k − 1 and 2k the cosine and sine of frequency k (k = 1 … (p − 1)/2), scaled by √(2/p).
    /// </summary>
    public static Tensor Basis(int p)
    {
        if (p < 3 || p % 2 == 0) throw new ArgumentException($"p must be an odd number ≥ 3, got {p}.");
        var x = arange(p, dtype: ScalarType.Float64);
        var rows = new List<Tensor> { full(p, 1 / Math.Sqrt(p), ScalarType.Float64) };
        for (int k = 1; k <= Frequencies(p); k++)
        {
            var angle = x * (2 * Math.PI * k / p);
            rows.Add(angle.cos() * Math.Sqrt(2.0 / p));
            rows.Add(angle.sin() * Math.Sqrt(2.0 / p));
        }
        return stack(rows);
    }

    /// <summary>The frequency of basis row <paramref name="index"/>: 0 for the constant, k for rows 2k − 1 and 2k.</summary>
    public static int FrequencyOf(int index) => (index + 1) / 2;

    /// <summary>"const", "cos k" or "sin k".</summary>
    public static string Label(int index) => index == 0 ? "const" : $"{(index % 2 == 1 ? "cos" : "sin")} {FrequencyOf(index)}";

    /// <summary>
    /// Power per frequency of a table over Z_p, [p, d] (rows indexed by the residue, e.g. the embedding of each
    /// number): P_k = Σ_d (C[cos k, d]² + C[sin k, d]²), C = basis · table. Index 0 holds the constant's power.
    /// </summary>
    public static double[] FrequencyPower(Tensor table)
    {
        int p = (int)table.shape[0];
        using var scope = NewDisposeScope();
        var c = Basis(p).matmul(table.to(ScalarType.Float64));
        var rowPower = c.pow(2).sum(dim: 1).data<double>().ToArray();
        var power = new double[Frequencies(p) + 1];
        for (int i = 0; i < p; i++) power[FrequencyOf(i)] += rowPower[i];
        return power;
    }

    /// <summary>
    /// The smallest set of non-constant frequencies, strongest first, that holds at least <paramref name="coverage"/>
    /// of the non-constant power (index 0 of <paramref name="power"/> is the constant and is ignored).
    /// </summary>
    public static int[] KeyFrequencies(double[] power, double coverage = 0.8)
    {
        double total = power.Skip(1).Sum();
        if (total <= 0) return [];
        var ordered = Enumerable.Range(1, power.Length - 1).OrderByDescending(k => power[k]).ToList();
        var result = new List<int>();
        double covered = 0;
        foreach (var k in ordered)
        {
            if (covered >= coverage * total) break;
            result.Add(k);
            covered += power[k];
        }
        return result.Order().ToArray();
    }

    /// <summary>Share of the non-constant power held by the given frequencies.</summary>
    public static double Share(double[] power, IEnumerable<int> frequencies)
    {
        double total = power.Skip(1).Sum();
        return total <= 0 ? 0 : frequencies.Sum(k => power[k]) / total;
    }

    /// <summary>2-D Fourier coefficients of functions over Z_p × Z_p: [p, p, n] (a, b, channel) → [p, p, n] (i, j, channel).</summary>
    public static Tensor Transform2D(Tensor grid)
    {
        int p = (int)grid.shape[0];
        using var scope = NewDisposeScope();
        var basis = Basis(p);
        return einsum("ia,jb,abn->ijn", basis, basis, grid.to(ScalarType.Float64)).MoveToOuterDisposeScope();
    }

    /// <summary>Back from 2-D coefficients to functions over Z_p × Z_p: [p, p, n] → [p, p, n].</summary>
    public static Tensor Inverse2D(Tensor coefficients)
    {
        int p = (int)coefficients.shape[0];
        using var scope = NewDisposeScope();
        var basis = Basis(p);
        return einsum("ia,jb,ijn->abn", basis, basis, coefficients).MoveToOuterDisposeScope();
    }

    /// <summary>The frequency of each basis row, [p] (int64).</summary>
    static Tensor RowFrequencies(int p) => tensor(Enumerable.Range(0, p).Select(i => (long)FrequencyOf(i)).ToArray());

    /// <summary>[p] booleans: whether each basis row's frequency is in the set.</summary>
    static Tensor RowsIn(int p, ISet<int> set) => tensor(Enumerable.Range(0, p).Select(i => set.Contains(FrequencyOf(i))).ToArray());

    /// <summary>
    /// Removes from functions over Z_p × Z_p [p, p, n] every 2-D Fourier component that involves a frequency in
    /// <paramref name="frequencies"/> (an orthogonal projection). The constant component is never removed.
    /// </summary>
    public static Tensor Ablate(Tensor grid, IEnumerable<int> frequencies)
    {
        var set = frequencies.ToHashSet();
        int p = (int)grid.shape[0];
        using var scope = NewDisposeScope();
        var c = Transform2D(grid);
        var rows = RowsIn(p, set);
        var mask = (rows.unsqueeze(1) | rows.unsqueeze(0)).logical_not().to(ScalarType.Float64).unsqueeze(2);
        return Inverse2D(c * mask).to(grid.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Share of the non-constant 2-D power of [p, p, n] held by components that use only the given frequencies.</summary>
    public static double Share2D(Tensor grid, IEnumerable<int> frequencies)
    {
        var set = frequencies.ToHashSet();
        using var scope = NewDisposeScope();
        var power = Transform2D(grid).pow(2).sum(dim: 2);
        int p = (int)grid.shape[0];
        var constantOrIn = RowsIn(p, set) | RowFrequencies(p).eq(0);
        var within = (constantOrIn.unsqueeze(1) & constantOrIn.unsqueeze(0)).to(ScalarType.Float64);
        within[0, 0] = 0.0;
        double total = power.sum().item<double>() - power[0, 0].item<double>();
        double inside = (power * within).sum().item<double>();
        return total <= 0 ? 0 : inside / total;
    }

    /// <summary>
    /// For each channel of [p, p, n] (a neuron, a feature): the single frequency k whose components (those using
    /// only k and the constant) hold the most of its non-constant power, and that share. Channels with no
    /// non-constant power get frequency 0 and share 0.
    /// </summary>
    public static (int[] Frequency, double[] Share) ChannelFrequencies(Tensor grid)
    {
        int p = (int)grid.shape[0], n = (int)grid.shape[2];
        int frequencies = Frequencies(p);
        using var scope = NewDisposeScope();
        var power = Transform2D(grid).pow(2);                       // [p, p, n]
        var total = power.sum([0, 1]) - power[0, 0];
        // pure[k, i, j] = 1 when component (i, j) uses frequency k alone (with the constant): (0,k), (k,0), (k,k).
        var f = RowFrequencies(p);
        var a = f.view(p, 1).expand(p, p);
        var b = f.view(1, p).expand(p, p);
        var pureFrequency = where((a.eq(0) | b.eq(0) | a.eq(b)) & (a + b).gt(0), maximum(a, b), full(p, p, -1L));
        var pure = arange(frequencies + 1, dtype: ScalarType.Int64).view(-1, 1, 1).eq(pureFrequency.unsqueeze(0)).to(ScalarType.Float64);
        var perFrequency = einsum("kij,ijn->kn", pure, power);
        var (best, index) = perFrequency.max(0);
        var totals = total.data<double>().ToArray();
        var bestValues = best.data<double>().ToArray();
        var indices = index.data<long>().ToArray();
        var freq = new int[n];
        var share = new double[n];
        for (int c = 0; c < n; c++)
        {
            if (totals[c] <= 1e-12) continue;
            freq[c] = (int)indices[c];
            share[c] = bestValues[c] / totals[c];
        }
        return (freq, share);
    }

    /// <summary>The harmonics of <paramref name="k"/> mod p folded to 1 … (p − 1)/2: {min(m·k mod p, p − m·k mod p) : m = 1 … harmonics}.</summary>
    public static SortedSet<int> Harmonics(int k, int p, int harmonics)
    {
        var set = new SortedSet<int>();
        for (int m = 1; m <= harmonics; m++)
        {
            int f = (int)((long)m * k % p);
            f = Math.Min(f, p - f);
            if (f > 0) set.Add(f);
        }
        return set;
    }

    /// <summary>
    /// For each channel of [p, p, n] (a feature's activation over (a, b)): the frequency k whose first
    /// <paramref name="harmonics"/> harmonics hold the most of its non-constant 2-D power, and that share. The
    /// components counted for k are those (i, j) whose row frequencies both lie in {0} ∪ {m·k mod p, folded :
    /// m = 1 … harmonics}, (0, 0) excluded. A feature that fires on a few pairs has a localised activation whose
    /// power spreads from its frequency k over k's harmonics (a narrow bump in the phase k(a + b) has a Fourier
    /// series in m·k), which a one-frequency share cannot see; with harmonics = 1 this is exactly
    /// <see cref="ChannelFrequencies"/>. Ties (the same components reached from k and from a divisor's multiple)
    /// go to the k with the most power in its own pure components. Channels without non-constant power get 0, 0.
    /// </summary>
    public static (int[] Frequency, double[] Share) HarmonicFrequencies(Tensor grid, int harmonics)
    {
        if (harmonics < 1) throw new ArgumentOutOfRangeException(nameof(harmonics), harmonics, "at least one harmonic (the frequency itself).");
        int p = (int)grid.shape[0], n = (int)grid.shape[2];
        int frequencies = Frequencies(p);
        using var scope = NewDisposeScope();
        var power = Transform2D(grid).pow(2);
        var total = (power.sum([0, 1]) - power[0, 0]).data<double>().ToArray();
        var rowFrequency = Enumerable.Range(0, p).Select(FrequencyOf).ToArray();
        var masks = new double[frequencies * p * p];
        for (int k = 1; k <= frequencies; k++)
        {
            var allowed = Harmonics(k, p, harmonics);
            allowed.Add(0);
            for (int i = 0; i < p; i++)
                for (int j = 0; j < p; j++)
                    if ((i | j) != 0 && allowed.Contains(rowFrequency[i]) && allowed.Contains(rowFrequency[j]))
                        masks[((k - 1) * p + i) * p + j] = 1;
        }
        var inHarmonics = einsum("kij,ijn->kn", tensor(masks).view(frequencies, p, p), power).data<double>().ToArray();   // [K, n]
        var fundamental = ChannelFrequencyPower(power, p);                                                             // [K + 1, n]
        var freq = new int[n];
        var share = new double[n];
        for (int c = 0; c < n; c++)
        {
            if (total[c] <= 1e-12) continue;
            int best = 0;
            for (int k = 1; k <= frequencies; k++)
            {
                double v = inHarmonics[(k - 1) * n + c], b = best == 0 ? double.NegativeInfinity : inHarmonics[(best - 1) * n + c];
                if (v > b + 1e-9 * total[c] || (Math.Abs(v - b) <= 1e-9 * total[c] && fundamental[k * n + c] > fundamental[best * n + c])) best = k;
            }
            freq[c] = best;
            share[c] = inHarmonics[(best - 1) * n + c] / total[c];
        }
        return (freq, share);
    }

    /// <summary>Power of each channel in the pure components of each frequency k ((0, k), (k, 0), (k, k)), flattened [K + 1, n].</summary>
    static double[] ChannelFrequencyPower(Tensor power, int p)
    {
        using var scope = NewDisposeScope();
        var f = RowFrequencies(p);
        var a = f.view(p, 1).expand(p, p);
        var b = f.view(1, p).expand(p, p);
        var pureFrequency = where((a.eq(0) | b.eq(0) | a.eq(b)) & (a + b).gt(0), maximum(a, b), full(p, p, -1L));
        var pure = arange(Frequencies(p) + 1, dtype: ScalarType.Int64).view(-1, 1, 1).eq(pureFrequency.unsqueeze(0)).to(ScalarType.Float64);
        return einsum("kij,ijn->kn", pure, power).data<double>().ToArray();
    }

    /// <summary>
    /// For each decoder direction [d_sae, d] over the MLP's neurons: the neuron frequency (from
    /// <paramref name="neuronFrequency"/>, one per neuron, 0 for a neuron without one) whose neurons hold the largest
    /// share of the direction's squared norm, and that share: share_k(d) = Σ_{neurons n of frequency k} d_n² / ‖d‖².
    /// The neurons of one frequency span the neuron-space subspace that frequency's computation lives in.
    /// </summary>
    public static (int[] Frequency, double[] Share) DecoderFrequencies(Tensor decoder, int[] neuronFrequency)
    {
        if (decoder.ndim != 2 || decoder.shape[1] != neuronFrequency.Length)
            throw new ArgumentException($"decoder directions [d_sae, {neuronFrequency.Length}] expected, got [{string.Join(", ", decoder.shape)}].");
        using var scope = NewDisposeScope();
        int maxK = neuronFrequency.DefaultIfEmpty(0).Max();
        var onehot = zeros(neuronFrequency.Length, maxK + 1, ScalarType.Float64);
        for (int i = 0; i < neuronFrequency.Length; i++) onehot[i, neuronFrequency[i]] = 1.0;
        var squared = decoder.to(ScalarType.Float64).pow(2);
        var perK = squared.matmul(onehot);                                       // [d_sae, K + 1]
        var totals = squared.sum(dim: 1).data<double>().ToArray();
        var values = perK.data<double>().ToArray();
        int n = (int)decoder.shape[0], width = maxK + 1;
        var freq = new int[n];
        var share = new double[n];
        for (int c = 0; c < n; c++)
        {
            if (totals[c] <= 1e-12) continue;
            int best = 0;
            double bestValue = -1;
            for (int k = 1; k < width; k++)
                if (values[c * width + k] > bestValue) { bestValue = values[c * width + k]; best = k; }
            freq[c] = best;
            share[c] = bestValue / totals[c];
        }
        return (freq, share);
    }

    /// <summary>
    /// Per channel of [p, p, n]: the share of its non-constant 2-D power in components that use only
    /// <paramref name="frequencies"/> (and the constant), jointly — <see cref="Share2D"/> channel by channel — and the
    /// share in components with the same frequency on both axes (cos/sin k ⊗ cos/sin k, k ≠ 0), where a function of
    /// a + b alone has all its power.
    /// </summary>
    public static (double[] Within, double[] SameFrequency) ChannelShares(Tensor grid, IEnumerable<int> frequencies)
    {
        var set = frequencies.ToHashSet();
        int p = (int)grid.shape[0];
        using var scope = NewDisposeScope();
        var power = Transform2D(grid).pow(2);                                   // [p, p, n]
        var total = power.sum([0, 1]) - power[0, 0];
        var constantOrIn = RowsIn(p, set) | RowFrequencies(p).eq(0);
        var within = (constantOrIn.unsqueeze(1) & constantOrIn.unsqueeze(0)).to(ScalarType.Float64);
        within[0, 0] = 0.0;
        var f = RowFrequencies(p);
        var same = (f.unsqueeze(1).eq(f.unsqueeze(0)) & f.unsqueeze(1).gt(0)).to(ScalarType.Float64);
        var safe = total.clamp_min(1e-300);
        var w = where(total.gt(1e-12), einsum("ij,ijn->n", within, power) / safe, zeros_like(total)).data<double>().ToArray();
        var d = where(total.gt(1e-12), einsum("ij,ijn->n", same, power) / safe, zeros_like(total)).data<double>().ToArray();
        return (w, d);
    }
}
