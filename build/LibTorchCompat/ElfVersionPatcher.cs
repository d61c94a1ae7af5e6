// Marks chosen symbol-version requirements of an ELF shared object as weak (VER_FLG_WEAK).
//
// Why: TorchSharp 0.107.0's libLibTorchSharp.so was linked against GCC 13's libstdc++ and records a
// requirement on GLIBCXX_3.4.32. Older distributions (Debian 12 ships 3.4.30) refuse to load it, and
// TorchSharp reports that as a misleading "doesn't contain a reference to libtorch-cpu-linux-x64" error.
// The only symbol bound to that version is a marker nothing calls, so a weak requirement is safe: the
// dynamic loader then accepts the library when the version is absent.
//
// This file is compiled twice: by MSBuild's RoslynCodeTaskFactory (LibTorchCompat.targets), where the task
// class below is included, and by the test project with ELF_PATCHER_NO_TASK defined, to test the patcher alone.
// Keep it to C# that both compile: no records, no file-scoped namespaces.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Mechanist.BuildSupport
{
    public static class ElfVersionPatcher
    {
        public const ushort VerFlagWeak = 0x2;
        const uint ShtGnuVerneed = 0x6ffffffe;

        /// <summary>One version requirement read from the .gnu.version_r section.</summary>
        public sealed class Requirement
        {
            public Requirement(string library, string version, ushort flags, long flagsOffset)
            {
                Library = library; Version = version; Flags = flags; FlagsOffset = flagsOffset;
            }
            public string Library { get; private set; }
            public string Version { get; private set; }
            public ushort Flags { get; private set; }
            public long FlagsOffset { get; private set; }
            public bool IsWeak { get { return (Flags & VerFlagWeak) != 0; } }
        }

        /// <summary>Lists every version requirement of a 64-bit little-endian ELF image.</summary>
        public static List<Requirement> ReadRequirements(byte[] elf, string name)
        {
            var result = new List<Requirement>();
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException(name + ": not an ELF file (missing \\x7fELF magic).");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException(name + ": expected a 64-bit little-endian ELF file (class " + elf[4] + ", data " + elf[5] + ").");
            long shoff = ReadI64(elf, 0x28, name);
            int shentsize = ReadU16(elf, 0x3A, name);
            int shnum = ReadU16(elf, 0x3C, name);
            if (shentsize < 64) throw new InvalidDataException(name + ": section header entry size " + shentsize + " is smaller than 64.");
            for (int i = 0; i < shnum; i++)
            {
                long sh = shoff + (long)i * shentsize;
                if (ReadU32(elf, sh + 4, name) != ShtGnuVerneed) continue;
                long offset = ReadI64(elf, sh + 0x18, name);
                long size = ReadI64(elf, sh + 0x20, name);
                uint link = ReadU32(elf, sh + 0x28, name);
                uint count = ReadU32(elf, sh + 0x2C, name);
                if (offset < 0 || size < 0 || offset + size > elf.Length)
                    throw new InvalidDataException(name + ": .gnu.version_r section lies outside the file.");
                long strtab = ReadI64(elf, shoff + (long)link * shentsize + 0x18, name);
                long need = offset;
                for (uint n = 0; n < count; n++)
                {
                    int auxCount = ReadU16(elf, need + 2, name);
                    string library = ReadString(elf, strtab + ReadU32(elf, need + 4, name), name);
                    long aux = need + ReadU32(elf, need + 8, name);
                    for (int a = 0; a < auxCount; a++)
                    {
                        ushort flags = ReadU16(elf, aux + 4, name);
                        string version = ReadString(elf, strtab + ReadU32(elf, aux + 8, name), name);
                        result.Add(new Requirement(library, version, flags, aux + 4));
                        uint nextAux = ReadU32(elf, aux + 12, name);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = ReadU32(elf, need + 12, name);
                    if (next == 0) break;
                    need += next;
                }
            }
            return result;
        }

        /// <summary>Sets VER_FLG_WEAK on every requirement whose version is in <paramref name="versions"/>.
        /// Returns how many entries changed (0 when already weak or absent); <paramref name="elf"/> is edited in memory.</summary>
        public static int MarkWeak(byte[] elf, ICollection<string> versions, string name)
        {
            int changed = 0;
            foreach (var r in ReadRequirements(elf, name))
            {
                if (!versions.Contains(r.Version) || r.IsWeak) continue;
                ushort flags = (ushort)(r.Flags | VerFlagWeak);
                elf[r.FlagsOffset] = (byte)(flags & 0xff);
                elf[r.FlagsOffset + 1] = (byte)(flags >> 8);
                changed++;
            }
            return changed;
        }

        /// <summary>Patches <paramref name="path"/> without touching the bytes it may share with a hard-linked
        /// original: writes a new file beside it (same permissions), then renames it over the path. Keeps the original timestamp so
        /// that incremental copies see the file as up to date. Returns the number of entries changed.</summary>
        public static int PatchFile(string path, ICollection<string> versions)
        {
            byte[] bytes = File.ReadAllBytes(path);
            int changed = MarkWeak(bytes, versions, path);
            if (changed == 0) return 0;
            DateTime stamp = File.GetLastWriteTimeUtc(path);
            string temp = path + ".weak-" + Guid.NewGuid().ToString("N") + ".tmp";
            try
            {
                // Copy first so the new file keeps the original's permissions, then overwrite its bytes.
                File.Copy(path, temp);
                using (var stream = new FileStream(temp, FileMode.Truncate, FileAccess.Write))
                    stream.Write(bytes, 0, bytes.Length);
                File.SetLastWriteTimeUtc(temp, stamp);
                File.Replace(temp, path, null);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
            return changed;
        }

        static void Check(byte[] b, long at, int size, string name)
        {
            if (at < 0 || at + size > b.Length)
                throw new InvalidDataException(name + ": truncated ELF file (read of " + size + " bytes at offset " + at + " past the end, length " + b.Length + ").");
        }
        static ushort ReadU16(byte[] b, long at, string name) { Check(b, at, 2, name); return (ushort)(b[at] | b[at + 1] << 8); }
        static uint ReadU32(byte[] b, long at, string name) { Check(b, at, 4, name); return BitConverter.ToUInt32(b, (int)at); }
        static long ReadI64(byte[] b, long at, string name) { Check(b, at, 8, name); return BitConverter.ToInt64(b, (int)at); }
        static string ReadString(byte[] b, long at, string name)
        {
            Check(b, at, 1, name);
            long end = at;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
        }
    }

#if !ELF_PATCHER_NO_TASK
    /// <summary>MSBuild task: weakens the listed version requirements in every file of <see cref="Files"/>.</summary>
    public sealed class WeakenElfVersionRequirements : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; }

        [Microsoft.Build.Framework.Required]
        public string Versions { get; set; }

        public override bool Execute()
        {
            var versions = new HashSet<string>(Versions.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries));
            foreach (var item in Files)
            {
                string path = item.GetMetadata("FullPath");
                try
                {
                    int changed = ElfVersionPatcher.PatchFile(path, versions);
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low,
                        "LibTorchCompat: {0}: {1} version requirement(s) marked weak.", path, changed);
                }
                catch (Exception e)
                {
                    Log.LogError(null, "MECHBUILD001", null, path, 0, 0, 0, 0,
                        "LibTorchCompat could not patch '{0}': {1}", path, e.Message);
                }
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
