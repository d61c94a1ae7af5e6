using Mechanist.Host.Checks;
using Mechanist.Host.Running;
using Mechanist.Validators;

namespace Mechanist.Host.Discovery;

/// <summary>
/// Every check the host knows, by ID: its own (MECH0xxx, the regression checks MECH5xxx) and those each validator
/// declares in <see cref="Validator.SupportedChecks"/> — Mechanist's built-ins with the <c>MECH</c> prefix, plugins with
/// prefixes of their own (<c>ACME0001</c>), configured exactly alike. Built by constructing every validator once, as
/// Roslyn asks every analyzer for its supported diagnostics before it runs any. What cannot be used is a finding, never
/// an exception: a validator that cannot be constructed (MECH0001) or declares a check ID that is malformed, repeated or
/// uses the <c>MECH</c> prefix from a plugin (MECH0002; the validator is not used), and a check ID that two validators
/// declare (MECH0004; the first declaration is kept).
/// </summary>
public sealed class CheckCatalog
{
    CheckCatalog(IReadOnlyDictionary<string, CheckDescriptor> known, IReadOnlyDictionary<string, IReadOnlyList<CheckDescriptor>> declared,
        IReadOnlyDictionary<string, Finding> unusable, IReadOnlyList<Finding> findings, IReadOnlyDictionary<string, string?> sourceFolders,
        IReadOnlyDictionary<string, MethodEntry> declaredBy)
    {
        Known = known;
        Declared = declared;
        Unusable = unusable;
        Findings = findings;
        SourceFolders = sourceFolders;
        DeclaredBy = declaredBy;
    }

    /// <summary>Every check by ID: the host's own, the regression checks, then each usable validator's.</summary>
    public IReadOnlyDictionary<string, CheckDescriptor> Known { get; }

    /// <summary>The checks each usable validator declares, by validator ID.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<CheckDescriptor>> Declared { get; }

    /// <summary>Validators that cannot be used, by ID, with the finding that says why (MECH0001 or MECH0002).</summary>
    public IReadOnlyDictionary<string, Finding> Unusable { get; }

    /// <summary>What building the catalog found: unusable validators and duplicate check IDs, in discovery order.</summary>
    public IReadOnlyList<Finding> Findings { get; }

    /// <summary>For a plugin's check: the plugin's folder (where its help page is looked for first); null for built-ins.</summary>
    public IReadOnlyDictionary<string, string?> SourceFolders { get; }

    /// <summary>The validator whose declaration of a check ID is kept (the host's own checks have none).</summary>
    public IReadOnlyDictionary<string, MethodEntry> DeclaredBy { get; }

    /// <summary>The host's own checks: infrastructure, configuration and regression.</summary>
    public static IEnumerable<CheckDescriptor> HostChecks =>
        InfrastructureChecks.All.Concat(ConfigurationChecks.All).Concat(RegressionChecks.All);

    /// <summary>
    /// Constructs every validator of <paramref name="catalog"/> through <paramref name="services"/> and reads its
    /// declared checks (with <paramref name="runner"/>'s time budget, when given).
    /// </summary>
    public static CheckCatalog Build(MethodCatalog catalog, IServiceProvider services, MethodRunner? runner = null)
    {
        var known = new Dictionary<string, CheckDescriptor>(StringComparer.Ordinal);
        foreach (var d in HostChecks) known.TryAdd(d.Id, d);
        var declared = new Dictionary<string, IReadOnlyList<CheckDescriptor>>(StringComparer.Ordinal);
        var unusable = new Dictionary<string, Finding>(StringComparer.Ordinal);
        var findings = new List<Finding>();
        var folders = new Dictionary<string, string?>(StringComparer.Ordinal);
        var declaredBy = new Dictionary<string, MethodEntry>(StringComparer.Ordinal);
        // Built-ins first, so that a plugin never takes a built-in's ID away from it.
        foreach (var entry in catalog.OfKind(MethodKind.Validator).OrderBy(e => e.IsBuiltIn ? 0 : 1))
        {
            IReadOnlyList<CheckDescriptor> checks;
            try
            {
                checks = runner is not null
                    ? runner.Declare(entry)
                    : MethodInvoker.Invoke(entry, () => MethodCatalog.Create<Validator>(entry, services).SupportedChecks);
            }
            catch (MethodFailedException e)
            {
                unusable[entry.Id] = e.ToFinding();
                findings.Add(e.ToFinding());
                continue;
            }
            catch (MethodTimedOutException e)
            {
                unusable[entry.Id] = e.ToFinding();
                findings.Add(e.ToFinding());
                continue;
            }
            catch (MethodNotRunException e)
            {
                unusable[entry.Id] = e.ToFinding();
                continue;
            }
            if (Problem(entry, checks) is { } problem)
            {
                var finding = MethodRegistry.PluginFailure(entry.Source, $"validator '{entry.Id}' ({entry.Type.FullName}) {problem}; the validator is not used");
                unusable[entry.Id] = finding;
                findings.Add(finding);
                continue;
            }
            declared[entry.Id] = checks;
            foreach (var c in checks)
            {
                if (known.TryGetValue(c.Id, out var first))
                {
                    var owner = declaredBy.TryGetValue(c.Id, out var o) ? $"validator '{o.Id}' ({o.Source})" : "the host";
                    findings.Add(Finding.Create(InfrastructureChecks.DuplicateMethodId, new FindingLocation(Path: entry.Source, Method: entry.Id),
                        ["check ID", c.Id, $"validator '{entry.Id}' ({entry.Source})", owner,
                         $"its title, default severity and threshold are the first's ('{first.Title}'), and a setting in 'checks' applies to both validators' findings"]));
                    continue;
                }
                known[c.Id] = c;
                declaredBy[c.Id] = entry;
                folders[c.Id] = entry.IsBuiltIn ? null : Path.GetDirectoryName(entry.Source);
            }
        }
        return new CheckCatalog(known, declared, unusable, findings, folders, declaredBy);
    }

    /// <summary>Why a validator's declared checks cannot be used, or null.</summary>
    static string? Problem(MethodEntry entry, IReadOnlyList<CheckDescriptor> checks)
    {
        if (checks is null) return "declares no SupportedChecks (null)";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in checks)
        {
            if (c is null) return "declares a null check descriptor";
            if (!CheckDescriptor.IsValidId(c.Id))
                return $"declares check '{c.Id}', which is not a check ID: a prefix of 2 to 12 letters, then 1 to 8 digits (ACME0001)";
            if (!entry.IsBuiltIn && CheckDescriptor.IsMechanistId(c.Id))
                return $"declares check {c.Id}, but the prefix {CheckDescriptor.MechanistPrefix} is Mechanist's own; give the plugin's checks a prefix of their own (docs/checks/README.md#choosing-a-prefix)";
            if (!seen.Add(c.Id)) return $"declares check {c.Id} twice";
            if (string.IsNullOrWhiteSpace(c.Title) || string.IsNullOrWhiteSpace(c.MessageFormat) || string.IsNullOrWhiteSpace(c.HelpLink))
                return $"declares check {c.Id} without a title, message format or help link";
        }
        return null;
    }
}
