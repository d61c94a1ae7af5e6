using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Discovery;
using Mechanist.Interpreters;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Methods.Interpreters;

/// <summary>
/// Top-activating dataset examples per feature, plus random samples from each activation quantile (so the
/// explanation is not read off the maximum alone), each with its context window of tokens and the feature's
/// activation on every token of the window. Streams the activations in a few passes with bounded memory.
/// </summary>
[Interpreter("top-examples",
    Title = "Top-activating examples and quantile samples",
    Summary = "For each feature: its firing frequency and maximum, the top-k activating rows, and seeded random samples from each of q activation quantiles (quantiles of the feature's positive activations), each with a context window of tokens and the feature's activation on every token in it when tokens are given. Streams activations in four passes; memory grows with features × (k + q·samples), not with the data.",
    Reference = "Bricken et al. 2023, Towards Monosemanticity (activation-quantile samples); Bills et al. 2023, Language models can explain neurons in language models.",
    HelpLink = "docs/methods/top-examples.md")]
public sealed class TopExamples : Interpreter<TopExamplesOptions>
{
    const int HistogramBins = 1024;

    /// <summary>Bins of the activation histogram reported per feature (each the sum of 1024 / 32 fine bins).</summary>
    public const int ReportedBins = 32;

    protected override IReadOnlyList<FeatureExplanation> Interpret(InterpretContext context, TopExamplesOptions options)
    {
        var source = context.Activations ?? throw new MechanistInputException("top-examples needs activations (--activations FILE, or a model and --tokens to harvest from).");
        var decomposition = context.Decomposition;
        if (source.Dimension != decomposition.DIn)
            throw new MechanistInputException($"{source.Name}: activations have dimension {source.Dimension} but the decomposition's d_in is {decomposition.DIn}.");
        var features = InterpreterInputs.Features(context);
        long n = source.Count;
        long[]? tokens = null;
        long seqLen = 0;
        if (context.Tokens is { } t)
        {
            if (t.ndim != 2 || t.numel() != n)
                throw new MechanistInputException(
                    $"tokens of shape [{string.Join(", ", t.shape)}] do not cover the {n} activation rows of {source.Name} (expected [n_sequences, seq_len] with n_sequences × seq_len = {n}).");
            tokens = t.to(ScalarType.Int64, CPU).reshape(-1).data<long>().ToArray();
            seqLen = t.shape[1];
        }
        int F = features.Count;
        using var index = tensor(features.Select(f => (long)f).ToArray());
        int k = options.TopK;

        // Pass 1: counts, sums, maxima and the running top-k (values and rows) per feature.
        var count = new long[F];
        var sum = new double[F];
        Tensor? topValues = null, topRows = null;
        long row0 = 0;
        foreach (var batch in source.ReadBatches(options.BatchSize))
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var f = Latents(decomposition, batch, index);
            var positive = f.gt(0);
            var c = positive.sum(dim: 0).data<long>().ToArray();
            var s = (f * positive).to(ScalarType.Float64).sum(dim: 0).data<double>().ToArray();
            for (int j = 0; j < F; j++) { count[j] += c[j]; sum[j] += s[j]; }
            var rows = arange(row0, row0 + batch.shape[0], dtype: ScalarType.Int64).unsqueeze(1).expand(batch.shape[0], F);
            var values = topValues is null ? f : cat([topValues, f], 0);
            var allRows = topRows is null ? rows : cat([topRows, rows], 0);
            // A stable descending sort keeps ties in row order (earlier kept rows precede this batch's rows), so the
            // result does not depend on the batch size.
            int kk = (int)Math.Min(k, values.shape[0]);
            var (sorted, order) = values.sort(0, true, true);
            var v = sorted.narrow(0, 0, kk);
            var i = order.narrow(0, 0, kk);
            topValues?.Dispose();
            topRows?.Dispose();
            topValues = v.MoveToOuterDisposeScope();
            topRows = allRows.gather(0, i).MoveToOuterDisposeScope();
            row0 += batch.shape[0];
        }
        var tv = topValues!.t().contiguous().data<float>().ToArray();
        var tr = topRows!.t().contiguous().data<long>().ToArray();
        int kept = (int)topValues.shape[0];
        topValues.Dispose();
        topRows.Dispose();
        var max = new double[F];
        for (int j = 0; j < F; j++) max[j] = kept > 0 ? Math.Max(0, tv[j * kept]) : 0;

        // Pass 2: a histogram of positive activations on [0, max] per feature, for quantile edges.
        var histogram = new long[F * HistogramBins];
        using (var maxT = tensor(max.Select(m => (float)m).ToArray()))
        {
            foreach (var batch in source.ReadBatches(options.BatchSize))
            {
                using var scope = NewDisposeScope();
                var f = Latents(decomposition, batch, index);
                var bin = (f / maxT.clamp_min(1e-30f) * HistogramBins).floor().clamp(0, HistogramBins - 1).to(ScalarType.Int64);
                var flat = (bin + arange(F, dtype: ScalarType.Int64).unsqueeze(0) * HistogramBins).masked_select(f.gt(0));
                var h = bincount(flat, minlength: F * HistogramBins).data<long>().ToArray();
                for (int x = 0; x < h.Length; x++) histogram[x] += h[x];
            }
        }
        int q = options.Quantiles;
        var edges = new double[F][];
        for (int j = 0; j < F; j++)
        {
            edges[j] = new double[q + 1];
            edges[j][q] = max[j];
            long seen = 0;
            int next = 1;
            for (int b = 0; b < HistogramBins && next < q; b++)
            {
                seen += histogram[j * HistogramBins + b];
                while (next < q && seen >= (double)count[j] * next / q)
                    edges[j][next++] = max[j] * (b + 1) / HistogramBins;
            }
            for (; next < q; next++) edges[j][next] = max[j];
        }

        // Pass 3: reservoir samples of rows per (feature, quantile).
        int S = options.SamplesPerQuantile;
        var reservoir = new List<(long Row, float Value)>[F * q];
        var seenIn = new long[F * q];
        for (int x = 0; x < reservoir.Length; x++) reservoir[x] = [];
        var rng = new Random(context.Seed);
        row0 = 0;
        if (S > 0)
            foreach (var batch in source.ReadBatches(options.BatchSize))
            {
                using var scope = NewDisposeScope();
                var f = Latents(decomposition, batch, index);
                var nz = f.gt(0).nonzero();
                if (nz.shape[0] > 0)
                {
                    var rows = nz.select(1, 0).data<long>().ToArray();
                    var cols = nz.select(1, 1).data<long>().ToArray();
                    var vals = f.index(nz.select(1, 0), nz.select(1, 1)).data<float>().ToArray();
                    for (int e = 0; e < rows.Length; e++)
                    {
                        int j = (int)cols[e];
                        int bucket = Bucket(edges[j], vals[e], q);
                        int slot = j * q + bucket;
                        long seen = ++seenIn[slot];
                        if (reservoir[slot].Count < S) reservoir[slot].Add((row0 + rows[e], vals[e]));
                        else
                        {
                            long r = rng.NextInt64(seen);
                            if (r < S) reservoir[slot][(int)r] = (row0 + rows[e], vals[e]);
                        }
                    }
                }
                row0 += batch.shape[0];
            }

        // Pass 4: the feature's activation on every row of each chosen example's context window.
        var windows = new Dictionary<long, (long Start, long End)>();
        void Want(long row)
        {
            if (windows.ContainsKey(row)) return;
            if (tokens is null) { windows[row] = (row, row + 1); return; }
            long seq = row / seqLen, pos = row % seqLen;
            long start = seq * seqLen + Math.Max(0, pos - options.ContextBefore);
            long end = seq * seqLen + Math.Min(seqLen, pos + options.ContextAfter + 1);
            windows[row] = (start, end);
        }
        for (int j = 0; j < F; j++)
            for (int x = 0; x < kept; x++)
                if (tv[j * kept + x] > 0) Want(tr[j * kept + x]);
        foreach (var list in reservoir) foreach (var (r, _) in list) Want(r);
        var neededRows = new HashSet<long>(windows.Values.SelectMany(w => LongRange(w.Start, w.End)));
        var windowActs = new Dictionary<long, float[]>();
        row0 = 0;
        if (neededRows.Count > 0)
            foreach (var batch in source.ReadBatches(options.BatchSize))
            {
                long b = batch.shape[0];
                var inBatch = neededRows.Where(r => r >= row0 && r < row0 + b).Order().ToArray();
                if (inBatch.Length > 0)
                {
                    using var scope = NewDisposeScope();
                    using var local = tensor(inBatch.Select(r => r - row0).ToArray());
                    var f = Latents(decomposition, batch.index_select(0, local), index).contiguous().data<float>().ToArray();
                    for (int x = 0; x < inBatch.Length; x++) windowActs[inBatch[x]] = f.AsSpan(x * F, F).ToArray();
                }
                row0 += b;
            }

        JsonObject Example(long row, float value, int j)
        {
            var (start, end) = windows[row];
            var o = new JsonObject { ["row"] = row, ["activation"] = Math.Round(value, 6) };
            if (tokens is not null)
            {
                o["sequence"] = row / seqLen;
                o["position"] = row % seqLen;
                o["focus"] = row - start;
                var ids = LongRange(start, end).Select(r => tokens[r]).ToArray();
                o["tokens"] = new JsonArray(ids.Select(id => (JsonNode)id).ToArray());
                if (context.TokenText is { } text) o["text"] = new JsonArray(ids.Select(id => (JsonNode)text(id)).ToArray());
                o["activations"] = new JsonArray(LongRange(start, end).Select(r => (JsonNode)Math.Round(windowActs[r][j], 6)).ToArray());
            }
            return o;
        }

        var result = new List<FeatureExplanation>(F);
        for (int j = 0; j < F; j++)
        {
            var top = new JsonArray();
            var topTokens = new List<long>();
            for (int x = 0; x < kept; x++)
            {
                float v = tv[j * kept + x];
                if (v <= 0) break;
                long r = tr[j * kept + x];
                top.Add(Example(r, v, j));
                if (tokens is not null) topTokens.Add(tokens[r]);
            }
            var quantiles = new JsonArray();
            for (int b = 0; b < q && count[j] > 0; b++)
            {
                var samples = reservoir[j * q + b].OrderByDescending(s => s.Value).Select(s => (JsonNode)Example(s.Row, s.Value, j)).ToArray();
                quantiles.Add(new JsonObject
                {
                    ["quantile"] = b,
                    ["range"] = new JsonArray(Math.Round(edges[j][b], 6), Math.Round(edges[j][b + 1], 6)),
                    ["count"] = seenIn[j * q + b],
                    ["samples"] = new JsonArray(samples),
                });
            }
            double frequency = (double)count[j] / n;
            var details = new JsonObject
            {
                ["rows"] = n,
                ["active_count"] = count[j],
                ["frequency"] = Math.Round(frequency, 8),
                ["max_activation"] = Math.Round(max[j], 6),
                ["mean_active_activation"] = count[j] > 0 ? Math.Round(sum[j] / count[j], 6) : 0,
                ["histogram"] = new JsonObject
                {
                    ["range"] = new JsonArray(0.0, Math.Round(max[j], 6)),
                    ["counts"] = new JsonArray(Enumerable.Range(0, ReportedBins).Select(b => (JsonNode)Enumerable.Range(0, HistogramBins / ReportedBins)
                        .Sum(x => histogram[j * HistogramBins + b * (HistogramBins / ReportedBins) + x])).ToArray()),
                },
                ["top"] = top,
                ["quantiles"] = quantiles,
                ["definition"] = "histogram: counts of the feature's positive activations in 32 equal bins on (0, max_activation]; quantile b holds positive activations between the b/q and (b+1)/q quantiles of the feature's positive activations (edges from a 1024-bin histogram on [0, max]); samples are uniform within it (seeded)",
            };
            string summary = count[j] == 0
                ? $"never fires on the {n} rows"
                : $"fires on {frequency.ToString("0.###%", CultureInfo.InvariantCulture)} of rows (max {max[j].ToString("0.###", CultureInfo.InvariantCulture)})" +
                  (topTokens.Count > 0
                      ? "; top tokens " + string.Join(", ", topTokens.GroupBy(x => x).OrderByDescending(g => g.Count()).Take(3)
                          .Select(g => $"{InterpreterInputs.Show(g.Key, context.TokenText)}×{g.Count()}"))
                      : "");
            result.Add(new FeatureExplanation(features[j], summary, details));
        }
        return result;
    }

    static Tensor Latents(Mechanist.Decomposers.Decomposition decomposition, Tensor batch, Tensor index)
    {
        using var noGrad = no_grad();
        return decomposition.Encode(batch).index_select(1, index).to(ScalarType.Float32);
    }

    static int Bucket(double[] edges, float value, int q)
    {
        for (int b = 0; b < q - 1; b++)
            if (value < edges[b + 1]) return b;
        return q - 1;
    }

    static IEnumerable<long> LongRange(long start, long end)
    {
        for (long r = start; r < end; r++) yield return r;
    }
}

public sealed record TopExamplesOptions : MethodOptions
{
    [Option("top-activating examples per feature")]
    public int TopK { get; init; } = 10;

    [Option("activation quantiles per feature, each sampled samples_per_quantile times")]
    public int Quantiles { get; init; } = 5;

    [Option("random examples drawn from each quantile")]
    public int SamplesPerQuantile { get; init; } = 3;

    [Option("tokens of context before each example's position")]
    public int ContextBefore { get; init; } = 8;

    [Option("tokens of context after each example's position")]
    public int ContextAfter { get; init; } = 3;

    [Option("activation rows encoded per batch")]
    public int BatchSize { get; init; } = 4096;

    public override IEnumerable<OptionError> Validate()
    {
        if (TopK < 1) yield return new("top_k", "must be at least 1");
        if (Quantiles < 1) yield return new("quantiles", "must be at least 1");
        if (SamplesPerQuantile < 0) yield return new("samples_per_quantile", "must be 0 or more");
        if (ContextBefore < 0) yield return new("context_before", "must be 0 or more");
        if (ContextAfter < 0) yield return new("context_after", "must be 0 or more");
        if (BatchSize < 1) yield return new("batch_size", "must be at least 1");
    }
}
