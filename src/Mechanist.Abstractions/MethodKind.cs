namespace Mechanist;

/// <summary>The five extension points.</summary>
public enum MethodKind
{
    Decomposer,
    Interpreter,
    Attribution,
    Validator,
    ModelLoader,
}

public static class MethodKindNames
{
    /// <summary>The lower-case name used on the command line and in JSON (<c>decomposer</c>, <c>model-loader</c>, …).</summary>
    public static string ToName(this MethodKind kind) => kind switch
    {
        MethodKind.Decomposer => "decomposer",
        MethodKind.Interpreter => "interpreter",
        MethodKind.Attribution => "attribution",
        MethodKind.Validator => "validator",
        MethodKind.ModelLoader => "model-loader",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
