using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Decomposers;

/// <summary>
/// An acausal crosscoder (Lindsey et al. 2024) over n sites of width d each: f = ReLU(Σ_l a^l W_enc^l + b_enc),
/// â^l = f W_dec^l + b_dec^l. Stored as architecture <c>crosscoder</c> (not a SAELens architecture) with
/// W_enc [n_sites, d_in, d_sae], b_enc [d_sae], W_dec [d_sae, n_sites, d_in], b_dec [n_sites, d_in]; <c>d_in</c> in
/// <c>cfg.json</c> is the width of one site. As a <see cref="Decomposition"/> it works on the sites concatenated
/// along the feature dimension ([N, n_sites·d_in]), so <see cref="Decomposition.DIn"/> is n_sites·d_in.
/// </summary>
public sealed class Crosscoder : SparseAutoencoder
{
    /// <param name="wEnc">[n_sites·d, d_sae] (site-major rows)</param>
    /// <param name="bEnc">[d_sae]</param>
    /// <param name="wDec">[d_sae, n_sites·d]</param>
    /// <param name="bDec">[n_sites·d]</param>
    /// <param name="sites">number of sites n; the widths must divide by it</param>
    /// <param name="hookNames">the sites' hook names, in order (recorded in cfg.json)</param>
    public Crosscoder(Tensor wEnc, Tensor bEnc, Tensor wDec, Tensor bDec, int sites, IReadOnlyList<string>? hookNames = null)
        : base(wEnc, wDec, bDec, applyBDecToInput: false)
    {
        if (sites < 1 || DIn % sites != 0 || DOut != DIn)
            throw new ArgumentException($"a crosscoder over {sites} sites needs d_in = d_out divisible by it; got d_in {DIn}, d_out {DOut}.");
        RequireShape("b_enc", bEnc, DSae);
        BEnc = Own(bEnc);
        Sites = sites;
        HookNames = hookNames ?? [];
    }

    public const string ArchitectureName = "crosscoder";

    public override string Architecture => ArchitectureName;

    public Tensor BEnc { get; }

    public int Sites { get; }

    /// <summary>The width of one site.</summary>
    public int SiteWidth => DIn / Sites;

    public IReadOnlyList<string> HookNames { get; }

    public override Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        return nn.functional.relu(PreActivation(x, BEnc)).MoveToOuterDisposeScope();
    }

    /// <summary>Tensors in the per-site layout (W_enc [n, d, d_sae], W_dec [d_sae, n, d], b_dec [n, d]): views, owned by this object.</summary>
    public override IReadOnlyDictionary<string, Tensor> StateDict() => new Dictionary<string, Tensor>
    {
        ["W_enc"] = WEnc.view(Sites, SiteWidth, DSae),
        ["b_enc"] = BEnc,
        ["W_dec"] = WDec.view(DSae, Sites, SiteWidth),
        ["b_dec"] = BDec.view(Sites, SiteWidth),
    };

    public override IReadOnlyDictionary<string, object> ConfigEntries() => new Dictionary<string, object>(base.ConfigEntries())
    {
        ["d_in"] = SiteWidth,
        ["n_sites"] = Sites,
        ["hook_names"] = HookNames,
    };

    /// <summary>Reads the per-site layout; <c>d_in</c> is one site's width, <c>n_sites</c> the number of sites.</summary>
    [SaeArchitecture(ArchitectureName)]
    public static Crosscoder Load(SaeLoadContext c)
    {
        int n = c.RequireInt("n_sites");
        int d = c.DIn;
        var names = c.GetStrings("hook_names");
        using var scope = NewDisposeScope();
        return new Crosscoder(c.Read("W_enc", n, d, c.DSae).reshape(n * d, c.DSae), c.Read("b_enc", c.DSae),
            c.Read("W_dec", c.DSae, n, d).reshape(c.DSae, n * d), c.Read("b_dec", n, d).reshape(n * d), n, names);
    }
}
