using System.Diagnostics;
using Mechanist.BuildSupport;
using Mechanist.Testing;
using TorchSharp;

namespace Mechanist.Abstractions.Tests;

/// <summary>The build step in build/LibTorchCompat: the patcher on the real library, the output copy, and loading.</summary>
public sealed class LibTorchCompatTests
{
    const string Version = "GLIBCXX_3.4.32";
    const string LibraryName = "libLibTorchSharp.so";

    static readonly string[] Weaken = [Version];

    /// <summary>The copy next to the tests (patched by the build).</summary>
    static string OutputCopy
    {
        get
        {
            var expected = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", LibraryName);
            if (File.Exists(expected)) return expected;
            return Directory.EnumerateFiles(AppContext.BaseDirectory, LibraryName, SearchOption.AllDirectories).FirstOrDefault()
                ?? throw new FileNotFoundException($"{LibraryName} not found under {AppContext.BaseDirectory}");
        }
    }

    /// <summary>The original in the NuGet package cache (never written by these tests); null when absent.</summary>
    static string? CachedOriginal
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
            if (string.IsNullOrEmpty(root))
                root = Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile),
                    ".nuget", "packages");
            var path = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", LibraryName);
            return File.Exists(path) ? path : null;
        }
    }

    static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr}");
        return stdout.Trim();
    }

    static long Inode(string path) => long.Parse(Run("stat", "-L", "-c", "%i", path));

    static int LinkCount(string path) => int.Parse(Run("stat", "-L", "-c", "%h", path));

    static ElfVersionPatcher.Requirement Requirement(List<ElfVersionPatcher.Requirement> all, string version) =>
        Assert.Single(all, r => r.Version == version);

    static string Describe(ElfVersionPatcher.Requirement r) => $"{r.Library}/{r.Version}/{r.Flags}/{r.FlagsOffset}";

    [Fact]
    public void Output_copy_has_the_requirement_marked_weak()
    {
        var path = OutputCopy;
        var requirements = ElfVersionPatcher.ReadRequirements(File.ReadAllBytes(path), path);
        var r = Requirement(requirements, Version);
        Assert.True(r.IsWeak, $"{path}: {Version} is not weak (flags {r.Flags})");
        Assert.Equal("libstdc++.so.6", r.Library);
        Assert.Contains(requirements, x => x.Version.StartsWith("GLIBC_", StringComparison.Ordinal));
    }

    [Fact]
    public void Package_cache_original_is_untouched_and_not_shared_with_the_output_copy()
    {
        var cached = CachedOriginal;
        if (cached is null) return; // no package cache on this machine: nothing to compare against
        var output = OutputCopy;

        var r = Requirement(ElfVersionPatcher.ReadRequirements(File.ReadAllBytes(cached), cached), Version);
        Assert.False(r.IsWeak, $"{cached}: the package cache copy was modified ({Version} is weak)");

        Assert.NotEqual(Inode(cached), Inode(output));
        Assert.Equal(1, LinkCount(output));
    }

    [Fact]
    public void MarkWeak_changes_exactly_one_entry_and_is_idempotent()
    {
        var cached = CachedOriginal;
        if (cached is null) return;
        var bytes = File.ReadAllBytes(cached); // in memory only; the cache is never written
        var original = (byte[])bytes.Clone();
        var before = ElfVersionPatcher.ReadRequirements(bytes, cached);

        Assert.Equal(1, ElfVersionPatcher.MarkWeak(bytes, Weaken, cached));
        var after = ElfVersionPatcher.ReadRequirements(bytes, cached);
        Assert.Equal(before.Count, after.Count);
        for (int i = 0; i < before.Count; i++)
        {
            if (before[i].Version == Version)
            {
                Assert.False(before[i].IsWeak);
                Assert.True(after[i].IsWeak);
                Assert.Equal(before[i].Flags | ElfVersionPatcher.VerFlagWeak, after[i].Flags);
            }
            else
            {
                Assert.Equal(Describe(before[i]), Describe(after[i]));
            }
        }
        // Only the flags of that one entry differ.
        var differing = Enumerable.Range(0, bytes.Length).Where(i => bytes[i] != original[i]).ToList();
        var entry = Requirement(before, Version);
        Assert.NotEmpty(differing);
        Assert.All(differing, i => Assert.InRange(i, entry.FlagsOffset, entry.FlagsOffset + 1));

        var once = (byte[])bytes.Clone();
        Assert.Equal(0, ElfVersionPatcher.MarkWeak(bytes, Weaken, cached));
        Assert.Equal(once, bytes);

        // Versions that are absent change nothing.
        Assert.Equal(0, ElfVersionPatcher.MarkWeak((byte[])original.Clone(), ["GLIBCXX_9.9.9"], cached));

        // The build's output copy is exactly the patched original.
        Assert.Equal(bytes, File.ReadAllBytes(OutputCopy));
    }

    [Fact]
    public void PatchFile_writes_a_new_file_keeps_the_timestamp_and_leaves_hard_links_alone()
    {
        var cached = CachedOriginal;
        if (cached is null) return;
        using var dir = new TempDir();
        var copy = dir.File(LibraryName);
        var link = dir.File("hardlink.so");
        File.Copy(cached, copy);
        var stamp = new DateTime(2021, 3, 4, 5, 6, 7, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(copy, stamp);
        Run("ln", copy, link);
        Assert.Equal(2, LinkCount(copy));
        long inodeBefore = Inode(copy);

        Assert.Equal(1, ElfVersionPatcher.PatchFile(copy, Weaken));

        Assert.Equal(stamp, File.GetLastWriteTimeUtc(copy));
        Assert.Equal(["hardlink.so", LibraryName], dir.Entries().Order(StringComparer.Ordinal));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
        Assert.NotEqual(inodeBefore, Inode(copy));
        Assert.Equal(1, LinkCount(copy));
        Assert.Equal(1, LinkCount(link));
        // The hard link (standing in for the package cache) still has the original bytes.
        Assert.Equal(File.ReadAllBytes(cached), File.ReadAllBytes(link));
        Assert.True(Requirement(ElfVersionPatcher.ReadRequirements(File.ReadAllBytes(copy), copy), Version).IsWeak);
        Assert.False(Requirement(ElfVersionPatcher.ReadRequirements(File.ReadAllBytes(link), link), Version).IsWeak);

        // Second run: nothing to do, the file is not rewritten.
        long inodePatched = Inode(copy);
        Assert.Equal(0, ElfVersionPatcher.PatchFile(copy, Weaken));
        Assert.Equal(inodePatched, Inode(copy));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(copy));
    }

    [Fact]
    public void PatchFile_keeps_the_file_mode()
    {
        var cached = CachedOriginal;
        if (cached is null || OperatingSystem.IsWindows()) return;
        using var dir = new TempDir();
        var copy = dir.File(LibraryName);
        File.Copy(cached, copy);
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                   | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(copy, mode);
        Assert.Equal(1, ElfVersionPatcher.PatchFile(copy, Weaken));
        Assert.Equal(mode, File.GetUnixFileMode(copy));
    }

    [Fact]
    public void Not_an_elf_file_is_refused_naming_it()
    {
        var e = Assert.Throws<InvalidDataException>(() =>
            ElfVersionPatcher.ReadRequirements(System.Text.Encoding.ASCII.GetBytes(new string('x', 200)), "some/name.so"));
        Assert.Contains("some/name.so", e.Message);
        Assert.Contains("not an ELF", e.Message);

        var small = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.ReadRequirements([0x7f, (byte)'E', (byte)'L', (byte)'F'], "tiny.so"));
        Assert.Contains("tiny.so", small.Message);

        var elf32 = new byte[64];
        elf32[0] = 0x7f; elf32[1] = (byte)'E'; elf32[2] = (byte)'L'; elf32[3] = (byte)'F'; elf32[4] = 1; elf32[5] = 1;
        var c = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkWeak(elf32, Weaken, "elf32.so"));
        Assert.Contains("elf32.so", c.Message);
        Assert.Contains("64-bit", c.Message);
    }

    [Fact]
    public void Truncated_elf_is_refused_naming_it()
    {
        var source = CachedOriginal ?? OutputCopy;
        var head = File.ReadAllBytes(source)[..100];
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.ReadRequirements(head, "cut.so"));
        Assert.Contains("cut.so", e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkWeak(head, Weaken, "cut.so"));
    }

    [Fact]
    public void PatchFile_on_a_non_elf_file_throws_and_leaves_it_alone()
    {
        using var dir = new TempDir();
        var path = dir.File("fake.so");
        File.WriteAllText(path, new string('z', 128));
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.PatchFile(path, Weaken));
        Assert.Contains(path, e.Message);
        Assert.Equal(new string('z', 128), File.ReadAllText(path));
        Assert.Equal(["fake.so"], dir.Entries());
    }

    [Fact]
    public void TorchSharp_loads()
    {
        using var t = torch.ones(2, 2);
        using var s = t.sum();
        Assert.Equal(4f, s.item<float>());
    }
}
