using Mechanist.Fuzzing;
using Mechanist.Testing;

namespace Mechanist.Fuzz.Tests;

/// <summary>
/// Every committed input of every target goes through the real reader under the fuzzing contract: a valid object,
/// or an input error on one line naming the file; within the time and managed-allocation bounds. The crashes are
/// the regression tests of the bugs the campaign found; the corpus keeps the paths it reached.
/// </summary>
public sealed class ReplayTests
{
    [Theory]
    [MemberData(nameof(Corpus.Targets), MemberType = typeof(Corpus))]
    public void Every_crash_found_is_now_accepted_or_rejected_cleanly(string target) => Replay(target, "crashes");

    [Theory]
    [MemberData(nameof(Corpus.Targets), MemberType = typeof(Corpus))]
    public void The_minimised_corpus_keeps_the_contract(string target)
    {
        Assert.NotEmpty(Corpus.Files("corpus", target));
        Replay(target, "corpus");
    }

    static void Replay(string name, string kind)
    {
        var target = FuzzTargets.Get(name);
        using var scratch = new TempDir();
        var failures = new List<string>();
        foreach (var file in Corpus.Files(kind, name))
        {
            var outcome = FuzzContract.Check(target, File.ReadAllBytes(file), scratch.Path, ContractLimits.Replay);
            if (outcome.IsViolation) failures.Add($"{Path.GetFileName(file)}: {outcome}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} inputs of fuzz/{kind}/{name} break the contract:\n{string.Join("\n", failures)}");
    }
}
