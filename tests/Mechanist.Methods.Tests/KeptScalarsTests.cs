using System.Diagnostics;
using System.Reflection;
using System.Reflection.Emit;
using Mechanist.Sae;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>
/// The SAE training code hands libtorch no Scalar that can be finalized during the native call (see
/// <see cref="KeptScalars"/>): its helpers give the right values while another thread collects garbage as fast as it
/// can, and no method of the trainer or an SAE variant converts a number to a Scalar or calls a TorchSharp op that makes
/// one of its own (<c>a + b</c>, <c>square()</c>, <c>x * 2.0</c>, ...) without disposing it.
/// </summary>
public class KeptScalarsTests
{
    /// <summary>
    /// The helpers' values while another thread collects garbage as fast as it can. The race is rare per op: with the
    /// plain operators in place of the helpers (<c>a + b</c>, <c>a * 3.0</c>) this loop caught libtorch reading a freed
    /// Scalar ("Expected false to be true ... toFloat at Scalar.h", "Unknown scalar type") in one run of three, so the
    /// scan below is the guard and this checks the helpers compute what they say under collection.
    /// </summary>
    [Fact]
    public void Helpers_keep_their_scalars_alive_while_another_thread_collects()
    {
        using var a = ones(64, 64);
        using var b = full(new long[] { 64, 64 }, 2f);
        var checks = new (string Name, Func<Tensor> Op, float Expected)[]
        {
            ("Plus", () => a.Plus(b), 3f),
            ("Plus(double)", () => a.Plus(0.5), 1.5f),
            ("Times", () => b.Times(3.0), 6f),
            ("Over", () => b.Over(4L), 0.5f),
            ("Squared", () => b.Squared(), 4f),
            ("AtLeast", () => a.AtLeast(1.25), 1.25f),
            ("Dividing", () => 1.0.Dividing(b), 0.5f),
        };
        var failures = new List<string>();
        long iterations = 0, collections = 0;
        var stop = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                for (var i = 0; i < 100; i++) _ = new byte[256];
                GC.Collect();
                GC.WaitForPendingFinalizers();
                Interlocked.Increment(ref collections);
            }
        }) { IsBackground = true };
        collector.Start();
        try
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(1) && failures.Count < 5)
                foreach (var (name, op, expected) in checks)
                {
                    using var scope = NewDisposeScope();
                    try
                    {
                        var value = op().data<float>()[0];
                        if (value != expected) failures.Add($"{name}: {value}, expected {expected}");
                    }
                    catch (Exception e)
                    {
                        failures.Add($"{name}: {e.Message.Split('\n')[0]}");
                    }
                    iterations++;
                }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        Assert.True(collections > 10, $"only {collections} collections ran during the {iterations} ops");
        Assert.True(failures.Count == 0, $"{failures.Count} failures in {iterations} ops ({collections} collections): {string.Join("; ", failures)}");
    }

    /// <summary>Where a Scalar may outlive a method: the process-wide constants and a training run's own, disposed with it.</summary>
    static readonly string[] Owners = ["Mechanist.Sae.KeptScalars::.cctor", "Mechanist.Sae.SaeTrainer+Run`1::.ctor"];

    [Fact]
    public void Training_code_makes_no_temporary_scalar()
    {
        var sae = typeof(SaeTrainer).Assembly;
        var variants = typeof(Decomposers.TopKSaeDecomposer).Assembly.GetTypes()
            .Where(t => Outermost(t).BaseType is { IsGenericType: true } b && b.GetGenericTypeDefinition() == typeof(SaeDecomposer<>));
        var findings = new List<string>();
        int scanned = 0;
        foreach (var type in sae.GetTypes().Concat(variants))
            foreach (var method in Methods(type))
            {
                scanned++;
                var calls = IlCalls.Of(method).ToList();
                string where = $"{type.FullName}::{method.Name}";
                if (Owners.Contains(where)) continue;
                foreach (var call in calls)
                {
                    if (IsScalar(call.DeclaringType) && call.Name == "op_Implicit")
                        findings.Add($"{where}: converts a {call.GetParameters()[0].ParameterType.Name} to a Scalar in a call");
                    else if (call.DeclaringType?.Assembly == typeof(Scalar).Assembly && !IsScalar(call.DeclaringType) && IlCalls.MakesTemporaryScalar(call))
                        findings.Add($"{where}: calls {call.DeclaringType!.Name}.{call.Name}({string.Join(", ", call.GetParameters().Select(p => p.ParameterType.Name))}), which makes a Scalar of its own");
                }
                int made = calls.Count(c => c.DeclaringType?.FullName == "TorchSharp.ScalarExtensionMethods" && c.Name.StartsWith("To", StringComparison.Ordinal) && c.ReturnType() == typeof(Scalar));
                int disposed = calls.Count(IlCalls.IsDispose);
                if (made > disposed)
                    findings.Add($"{where}: makes {made} Scalars and disposes {disposed}");
            }
        Assert.True(scanned > 100, $"scanned only {scanned} methods");
        Assert.True(findings.Count == 0, string.Join("\n", findings));
    }

    [Fact]
    public void The_scan_finds_the_temporaries_of_plain_operators()
    {
        var calls = IlCalls.Of(typeof(KeptScalarsTests).GetMethod(nameof(PlainOperators), BindingFlags.NonPublic | BindingFlags.Static)!).ToList();
        Assert.Contains(calls, c => IsScalar(c.DeclaringType) && c.Name == "op_Implicit");
        Assert.Equal(3, calls.Count(c => c.DeclaringType == typeof(Tensor) && IlCalls.MakesTemporaryScalar(c)));
        Assert.DoesNotContain(IlCalls.Of(typeof(KeptScalars).GetMethod(nameof(KeptScalars.Plus), [typeof(Tensor), typeof(Tensor)])!),
            c => c.DeclaringType == typeof(Tensor) && IlCalls.MakesTemporaryScalar(c));
    }

    static Tensor PlainOperators(Tensor a, Tensor b) => (a + b).square().clamp_min(1e-12) * 2.0;

    static bool IsScalar(Type? t) => t == typeof(Scalar);

    static Type Outermost(Type t) => t.DeclaringType is { } d ? Outermost(d) : t;

    static IEnumerable<MethodBase> Methods(Type type)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        return type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all));
    }
}

/// <summary>The methods a method's IL calls, and whether a TorchSharp method makes a Scalar it does not dispose.</summary>
static class IlCalls
{
    static readonly Dictionary<short, OpCode> Codes = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    static readonly Dictionary<MethodBase, bool> Known = new();

    /// <summary>Scalar.Dispose, or IDisposable.Dispose (what <c>using</c> compiles to).</summary>
    public static bool IsDispose(MethodBase c) => c.Name == "Dispose" && (c.DeclaringType == typeof(Scalar) || c.DeclaringType == typeof(IDisposable));

    public static Type? ReturnType(this MethodBase m) => (m as MethodInfo)?.ReturnType;

    public static IEnumerable<MethodBase> Of(MethodBase m)
    {
        var il = m.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var typeArguments = m.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        var methodArguments = m.IsGenericMethod ? m.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            var op = Codes[il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i]];
            i += op.Size;
            if (op.OperandType == OperandType.InlineMethod)
            {
                MethodBase? callee = null;
                try { callee = m.Module.ResolveMethod(BitConverter.ToInt32(il, i), typeArguments, methodArguments); }
                catch (ArgumentException) { }
                if (callee is not null) yield return callee;
            }
            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
        }
    }

    /// <summary>
    /// A TorchSharp method that makes a Scalar (a conversion, or a call that does, a few levels down) and disposes
    /// none: <c>add(Tensor)</c> is <c>add(target, 1)</c>, <c>square()</c> is <c>pow(2)</c>.
    /// </summary>
    public static bool MakesTemporaryScalar(MethodBase m, int depth = 0)
    {
        if (Known.TryGetValue(m, out var known)) return known;
        if (depth > 4 || m.Name.StartsWith("THS", StringComparison.Ordinal)) return false;
        Known[m] = false;
        var calls = Of(m).ToList();
        bool disposes = calls.Any(IsDispose);
        bool result = !disposes && calls.Any(c =>
            c.DeclaringType == typeof(Scalar) && c.Name == "op_Implicit"
            || c.DeclaringType?.FullName == "TorchSharp.ScalarExtensionMethods" && c.ReturnType() == typeof(Scalar)
            || c.DeclaringType?.Assembly == typeof(Scalar).Assembly && c.DeclaringType != typeof(Scalar) && MakesTemporaryScalar(c, depth + 1));
        Known[m] = result;
        return result;
    }
}
