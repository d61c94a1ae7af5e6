using System.Text;
using Mechanist;
using Mechanist.Fuzzing;
using static TorchSharp.torch;

// The fuzzing harness. `fuzz/run.sh TARGET SECONDS` builds it, instruments the Mechanist assemblies and runs AFL++ on
// `afl TARGET`; the other commands make seeds and dictionaries and replay inputs outside AFL++.
const string Usage = """
    usage: Mechanist.Fuzz COMMAND
      list                              the targets
      afl TARGET                        run under afl-fuzz (SharpFuzz, out of process; input on stdin)
      replay TARGET PATH...             run files (or every file of folders) through the contract; exit 1 on a violation
      replay-folder TARGET FOLDER       run an input already laid out as the target's files in FOLDER
      seeds TARGET|all OUT              write each target's seeds to OUT/TARGET/
      dict TARGET FILE                  write the target's AFL++ dictionary
      pack TARGET OUT FILE...           bundle the target's files into one input
      unpack TARGET INPUT FOLDER        lay an input out as the target's files
    """;

if (args.Length == 0) { Console.Error.WriteLine(Usage); return 2; }
try
{
    set_num_threads(1);
    InstrumentationBuffer();
    switch (args[0])
    {
        case "list":
            foreach (var t in FuzzTargets.All) Console.WriteLine($"{t.Name,-20} {t.Summary}");
            return 0;
        case "afl" when args.Length == 2:
            return Afl(FuzzTargets.Get(args[1]));
        case "replay" when args.Length >= 3:
            return Replay(FuzzTargets.Get(args[1]), args[2..]);
        case "replay-folder" when args.Length == 3:
            return ReplayFolder(FuzzTargets.Get(args[1]), args[2]);
        case "seeds" when args.Length == 3:
            return Seeds(args[1], args[2]);
        case "dict" when args.Length == 3:
            File.WriteAllLines(args[2], FuzzTargets.Get(args[1]).Dictionary.Select((token, i) => $"t{i}=\"{AflEscape(token)}\""));
            return 0;
        case "pack" when args.Length >= 4:
            var target = FuzzTargets.Get(args[1]);
            if (args.Length - 3 != target.Files.Count)
                throw new MechanistInputException($"target '{target.Name}' takes {target.Files.Count} files ({string.Join(", ", target.Files)}), got {args.Length - 3}.");
            File.WriteAllBytes(args[2], FileBundle.Pack(args[3..].Select(File.ReadAllBytes).ToList()));
            return 0;
        case "unpack" when args.Length == 4:
            return Unpack(FuzzTargets.Get(args[1]), args[2], args[3]);
        default:
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
catch (MechanistInputException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

// Instrumented assemblies (fuzz/run.sh's build) count branches into SharpFuzz's shared map; outside afl-fuzz they
// need a map of their own. Harmless for a plain build.
static unsafe void InstrumentationBuffer() =>
    SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);

static string Scratch()
{
    var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
    var path = Path.Combine(root, $"mechanist-fuzz-{Environment.ProcessId}");
    Directory.CreateDirectory(path);
    return path;
}

static int Afl(FuzzTarget target)
{
    var scratch = Scratch();
    StartMemoryWatchdog(4L << 30);
    var buffer = new MemoryStream();
    SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
    {
        buffer.SetLength(0);
        stream.CopyTo(buffer);
        var outcome = FuzzContract.Check(target, buffer.GetBuffer().AsMemory(0, (int)buffer.Length), scratch, ContractLimits.Harness);
        if (outcome.IsViolation) throw new ContractViolation(outcome.ToString());
    });
    return 0;
}

// A reader that allocates without bound would take the machine down before the contract could measure it: past
// the limit the process dies, and AFL++ records the input as a crash.
static void StartMemoryWatchdog(long limit)
{
    var thread = new Thread(() =>
    {
        while (true)
        {
            if (PeakRss.Current() > limit) Environment.FailFast($"resident memory passed {limit >> 20} MiB");
            Thread.Sleep(5);
        }
    }) { IsBackground = true, Name = "memory watchdog" };
    thread.Start();
}

static int Replay(FuzzTarget target, string[] paths)
{
    var scratch = Scratch();
    int violations = 0;
    try
    {
        foreach (var file in paths.SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]))
        {
            var outcome = FuzzContract.Check(target, File.ReadAllBytes(file), scratch, ContractLimits.Harness);
            Console.WriteLine($"{file}: {outcome}");
            if (outcome.IsViolation) violations++;
        }
    }
    finally
    {
        Directory.Delete(scratch, recursive: true);
    }
    PrintPeak();
    return violations == 0 ? 0 : 1;
}

static int ReplayFolder(FuzzTarget target, string folder)
{
    long size = target.Files.Select(f => Path.Combine(folder, f)).Where(File.Exists).Sum(f => new FileInfo(f).Length);
    var outcome = FuzzContract.Run(target, new FuzzInput(Path.GetFullPath(folder), target.Files, size), ContractLimits.Harness);
    Console.WriteLine($"{folder}: {outcome}");
    PrintPeak();
    return outcome.IsViolation ? 1 : 0;
}

// The whole process's peak (VmHWM is reset by the contract's measurements; read it without resetting here).
static void PrintPeak() => Console.WriteLine($"peak_rss_bytes={PeakRss.Peak()}");

static int Seeds(string which, string outRoot)
{
    var scratch = Scratch();
    try
    {
        var context = new SeedContext(FindRepoRoot(), scratch);
        foreach (var target in which == "all" ? FuzzTargets.All : [FuzzTargets.Get(which)])
        {
            var dir = Path.Combine(outRoot, target.Name);
            Directory.CreateDirectory(dir);
            foreach (var seed in target.Seeds(context))
            {
                if (seed.Files.Count != target.Files.Count)
                    throw new InvalidOperationException($"{target.Name}: seed '{seed.Name}' has {seed.Files.Count} files, the target {target.Files.Count}");
                File.WriteAllBytes(Path.Combine(dir, seed.Name), FileBundle.Pack(seed.Files));
            }
            Console.WriteLine($"{target.Name}: {Directory.EnumerateFiles(dir).Count()} seeds in {dir}");
        }
    }
    finally
    {
        Directory.Delete(scratch, recursive: true);
    }
    return 0;
}

static int Unpack(FuzzTarget target, string input, string folder)
{
    var parts = FileBundle.Unpack(File.ReadAllBytes(input), target.Files.Count);
    for (int i = 0; i < parts.Count; i++)
    {
        var path = Path.Combine(folder, target.Files[i]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, parts[i].ToArray());
        Console.WriteLine($"{path}: {parts[i].Length} bytes");
    }
    return 0;
}

static string FindRepoRoot()
{
    foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Framework.sln"))) return dir.FullName;
    throw new MechanistInputException("Framework.sln not found above the current folder; run from the repository.");
}

// AFL++ dictionary values: printable ASCII as is, quotes and backslashes escaped, every other byte as \xNN.
static string AflEscape(string token)
{
    var sb = new StringBuilder();
    foreach (var b in Encoding.Latin1.GetBytes(token))
    {
        if (b == '"' || b == '\\') sb.Append('\\').Append((char)b);
        else if (b is >= 0x20 and < 0x7f) sb.Append((char)b);
        else sb.Append($"\\x{b:X2}");
    }
    return sb.ToString();
}
