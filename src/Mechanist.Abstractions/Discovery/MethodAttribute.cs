namespace Mechanist.Discovery;

/// <summary>
/// Marks a class as a Mechanist method and carries its ID: the one place the key is written.
/// The host reads these attributes to discover methods, in the built-ins assembly and in plugins alike.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public abstract class MethodAttribute : Attribute
{
    protected MethodAttribute(string id, MethodKind kind, Type baseType)
    {
        Id = id;
        Kind = kind;
        BaseType = baseType;
    }

    /// <summary>Stable ID, lower case, dotted (<c>sae.topk</c>, <c>pca</c>).</summary>
    public string Id { get; }

    public MethodKind Kind { get; }

    /// <summary>The extension-point base class a marked type must derive from.</summary>
    public Type BaseType { get; }

    /// <summary>One-line human title.</summary>
    public string Title { get; init; } = "";

    /// <summary>A paragraph: what it does and when to use it.</summary>
    public string Summary { get; init; } = "";

    /// <summary>Paper or other reference the method implements.</summary>
    public string? Reference { get; init; }

    /// <summary>Documentation link (repository-relative path or URI).</summary>
    public string? HelpLink { get; init; }
}

public sealed class DecomposerAttribute(string id) : MethodAttribute(id, MethodKind.Decomposer, typeof(Decomposers.Decomposer));

public sealed class InterpreterAttribute(string id) : MethodAttribute(id, MethodKind.Interpreter, typeof(Interpreters.Interpreter));

public sealed class AttributionMethodAttribute(string id) : MethodAttribute(id, MethodKind.Attribution, typeof(Attribution.AttributionMethod));

/// <summary>
/// Marks a validator. <see cref="Requires"/> lists what its context must carry for it to run at all; the host reads
/// it before running anything and refuses (MECH0010) a validation entry that cannot supply it.
/// </summary>
public sealed class ValidatorAttribute(string id) : MethodAttribute(id, MethodKind.Validator, typeof(Validators.Validator))
{
    /// <summary>The inputs every run of the validator needs (checks that need more say so in their descriptor).</summary>
    public Validators.ValidationInputs Requires { get; init; }
}

/// <summary>The ID of a model loader is the <c>model_type</c> of the <c>config.json</c> it reads.</summary>
public sealed class ModelLoaderAttribute(string id) : MethodAttribute(id, MethodKind.ModelLoader, typeof(Models.ModelLoader));
