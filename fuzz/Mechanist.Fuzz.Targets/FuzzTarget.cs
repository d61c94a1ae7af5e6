namespace Mechanist.Fuzzing;

/// <summary>
/// One reader of untrusted bytes under fuzzing. A target names the files one input is made of (a single file, or
/// the files of a folder format such as a SAELens folder), runs the real reader on them and checks what it returns.
/// The contract (<see cref="FuzzContract"/>) is the same for every target: the reader returns a valid object or
/// throws <see cref="MechanistInputException"/> naming the file; anything else is a crash.
/// To add a target, add one class deriving from this one under Targets/ and its seed corpus comes from
/// <see cref="Seeds"/>; the harness, <c>fuzz/run.sh</c> and the replay tests find it by its <see cref="Name"/>.
/// </summary>
public abstract class FuzzTarget
{
    /// <summary>Name on the command line and of the corpus folders (<c>fuzz/corpus/NAME</c>, <c>fuzz/crashes/NAME</c>).</summary>
    public abstract string Name { get; }

    /// <summary>What is read, in a few words (for <c>list</c> and the docs).</summary>
    public abstract string Summary { get; }

    /// <summary>
    /// The files of one input, relative to the input's folder. One name: the input is that file's bytes. Several:
    /// the input is a <see cref="FileBundle"/> of that many files.
    /// </summary>
    public abstract IReadOnlyList<string> Files { get; }

    /// <summary>
    /// Runs the reader on the input laid out in <paramref name="input"/>'s folder. Returns when the reader
    /// returned an object and that object passed the target's checks (throw <see cref="ContractViolation"/> when it
    /// did not); lets the reader's exceptions through.
    /// </summary>
    public abstract void Run(FuzzInput input);

    /// <summary>Valid inputs to start from, made from the repository's fixtures or with the project's own writers.</summary>
    public abstract IEnumerable<Seed> Seeds(SeedContext context);

    /// <summary>Tokens for AFL++'s dictionary (<c>-x</c>): keys and values of the format that mutations should try.</summary>
    public virtual IEnumerable<string> Dictionary => [];
}

/// <summary>A seed input: its name in the corpus and the bytes of each of the target's files.</summary>
public sealed record Seed(string Name, IReadOnlyList<byte[]> Files);

/// <summary>Where seeds come from: the repository root, and a scratch folder for files written to make them.</summary>
public sealed record SeedContext(string RepoRoot, string Scratch)
{
    public byte[] Fixture(string relative) => File.ReadAllBytes(Path.Combine(RepoRoot, relative));

    /// <summary>A fresh empty folder under the scratch folder.</summary>
    public string NewFolder(string name)
    {
        var path = Path.Combine(Scratch, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }
}

/// <summary>One input laid out on disk for a target.</summary>
public sealed class FuzzInput(string folder, IReadOnlyList<string> files, long size)
{
    /// <summary>The folder the input's files are in.</summary>
    public string Folder { get; } = folder;

    /// <summary>Full paths of the target's files, in the order of <see cref="FuzzTarget.Files"/>.</summary>
    public IReadOnlyList<string> Paths { get; } = files.Select(f => System.IO.Path.Combine(folder, f)).ToList();

    /// <summary>The first (or only) file.</summary>
    public string Path => Paths[0];

    /// <summary>Size of the input in bytes.</summary>
    public long Size { get; } = size;
}

/// <summary>A reader returned an object that is not valid (a shape that disagrees with its file, a NaN it should have refused, …).</summary>
public sealed class ContractViolation(string message) : Exception(message);
