namespace Mechanist.Testing;

/// <summary>
/// The conformance suite Mechanist runs over every one of its own methods, as one call per method. Each check of the
/// method's kind runs, and every failure is reported together in one <see cref="VerificationException"/>:
/// <list type="bullet">
/// <item>every kind: its descriptor is complete and its help page exists; its options are documented, snake_case,
/// validate with their defaults, round-trip through their text, and an unknown name is refused with the closest;</item>
/// <item>a decomposer: <see cref="DecomposerVerifier{TDecomposer}"/>;</item>
/// <item>a validator: <see cref="ValidatorVerifier{TValidator}"/>;</item>
/// <item>an interpreter: <see cref="InterpreterVerifier{TInterpreter}"/>;</item>
/// <item>an attribution method: <see cref="AttributionVerifier{TMethod}"/>;</item>
/// <item>a model loader: <see cref="ModelLoaderVerifier{TLoader}"/>.</item>
/// </list>
/// </summary>
public static class Conformance
{
    /// <summary>Verifies the method <paramref name="methodId"/> of <paramref name="host"/> (built-in, plugin or type of your own).</summary>
    public static void Verify(MethodHost host, string methodId, ConformanceOptions? options = null)
    {
        options ??= new ConformanceOptions();
        var entry = host.Entry(methodId);
        var f = new Failures($"{entry.Kind.ToName()} '{entry.Id}' ({entry.Type.FullName})");
        CommonChecks.Descriptor(f, entry);
        CommonChecks.Options(f, entry, options.Options);
        switch (entry.Kind)
        {
            case MethodKind.Decomposer: DecomposerConformance.Verify(host, entry, options, f); break;
            case MethodKind.Validator: ValidatorConformance.Verify(host, entry, options, f); break;
            case MethodKind.Interpreter: InterpreterConformance.Verify(host, entry, options, f); break;
            case MethodKind.Attribution: AttributionConformance.Verify(host, entry, options, f); break;
            case MethodKind.ModelLoader: ModelLoaderConformance.Verify(host, entry, options, f); break;
        }
        f.ThrowIfAny();
    }

    /// <summary>The ID in <typeparamref name="TMethod"/>'s attribute.</summary>
    internal static string IdOf<TMethod>() =>
        Mechanist.Discovery.MethodDescriptor.FromType(typeof(TMethod)).Id;

    internal static void Verify<TMethod>(ConformanceOptions? options) where TMethod : class
    {
        using var host = MethodHost.For<TMethod>();
        Verify(host, IdOf<TMethod>(), options);
    }
}

