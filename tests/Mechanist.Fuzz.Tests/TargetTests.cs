using Mechanist.Fuzzing;
using Mechanist.Testing;

namespace Mechanist.Fuzz.Tests;

/// <summary>The targets themselves: each reaches its reader's success path, and the contract tells the outcomes apart.</summary>
public sealed class TargetTests
{
    [Theory]
    [MemberData(nameof(Corpus.Targets), MemberType = typeof(Corpus))]
    public void Every_seed_is_read_as_a_valid_object(string name)
    {
        var target = FuzzTargets.Get(name);
        using var scratch = new TempDir();
        var seeds = target.Seeds(new SeedContext(Repo.Root, scratch.Path)).ToList();
        Assert.NotEmpty(seeds);
        foreach (var seed in seeds)
        {
            Assert.Equal(target.Files.Count, seed.Files.Count);
            var outcome = FuzzContract.Check(target, FileBundle.Pack(seed.Files), scratch.Path, ContractLimits.Replay);
            Assert.True(outcome.Kind == OutcomeKind.Accepted, $"{name}/{seed.Name}: {outcome}");
        }
    }

    [Fact]
    public void Targets_cover_every_reader_of_untrusted_bytes_once()
    {
        Assert.Equal(
            ["activation-store", "gpt2", "jsonl-tokens", "mechanist-json", "npy", "sae-checkpoint", "saelens", "safetensors", "sparsify", "training-checkpoint"],
            FuzzTargets.All.Select(t => t.Name));
        Assert.All(FuzzTargets.All, t => Assert.NotEmpty(t.Dictionary));
    }

    [Fact]
    public void A_truncated_file_is_rejected_naming_it_and_garbage_in_a_bundle_unpacks()
    {
        var target = FuzzTargets.Get("safetensors");
        using var scratch = new TempDir();
        var outcome = FuzzContract.Check(target, new byte[] { 1, 2, 3 }, scratch.Path, ContractLimits.Replay);
        Assert.Equal(OutcomeKind.Rejected, outcome.Kind);
        Assert.Contains("INPUT/tensors.safetensors", outcome.Detail);

        var parts = FileBundle.Unpack(new byte[] { 255, 255, 255, 255, 7, 8 }, 3);
        Assert.Equal([2, 0, 0], parts.Select(p => p.Length));
        var packed = FileBundle.Pack([[1], [], [2, 3]]);
        Assert.Equal([[1], [], [2, 3]], FileBundle.Unpack(packed, 3).Select(p => p.ToArray()));
    }

    [Fact]
    public void The_contract_tells_crashes_unnamed_errors_and_hangs_apart()
    {
        using var scratch = new TempDir();
        Assert.Equal(OutcomeKind.Crash, FuzzContract.Check(new Throwing(new InvalidOperationException("bug")), new byte[] { 1 }, scratch.Path, ContractLimits.Replay).Kind);
        Assert.Equal(OutcomeKind.BadMessage, FuzzContract.Check(new Throwing(new MechanistInputException("no file named")), new byte[] { 1 }, scratch.Path, ContractLimits.Replay).Kind);
        Assert.Equal(OutcomeKind.Hang, FuzzContract.Check(new Sleeping(), new byte[] { 1 }, scratch.Path, ContractLimits.Replay with { Time = TimeSpan.FromMilliseconds(10), TimePerMiB = TimeSpan.Zero }).Kind);
        var memory = FuzzContract.Check(new Allocating(), new byte[] { 1 }, scratch.Path, ContractLimits.Replay with { ManagedBase = 1 << 20 });
        Assert.Equal(OutcomeKind.Memory, memory.Kind);
    }

    abstract class Fake : FuzzTarget
    {
        public override string Name => "fake";
        public override string Summary => "";
        public override IReadOnlyList<string> Files => ["f"];
        public override IEnumerable<Seed> Seeds(SeedContext context) => [];
    }

    sealed class Throwing(Exception e) : Fake { public override void Run(FuzzInput input) => throw e; }

    sealed class Sleeping : Fake { public override void Run(FuzzInput input) => Thread.Sleep(50); }

    sealed class Allocating : Fake { public override void Run(FuzzInput input) => GC.KeepAlive(new byte[8 << 20]); }
}
