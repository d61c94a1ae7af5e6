using System.Text.Json.Nodes;
using Mechanist.Interpreters;

namespace Mechanist.Methods.Interpreters;

/// <summary>Checks shared by the interpreters.</summary>
internal static class InterpreterInputs
{
    /// <summary>The features to explain, each checked against d_sae.</summary>
    public static IReadOnlyList<int> Features(InterpretContext context)
    {
        int dSae = context.Decomposition.DSae;
        var features = context.Features ?? Enumerable.Range(0, dSae).ToList();
        foreach (var f in features)
            if (f < 0 || f >= dSae)
                throw new MechanistInputException($"feature {f} is out of range: the decomposition has {dSae} features (0 … {dSae - 1}).");
        return features;
    }

    public static JsonObject Token(long id, Func<long, string>? text, string valueName, double value)
    {
        var o = new JsonObject { ["token"] = id };
        if (text is not null) o["text"] = text(id);
        o[valueName] = Math.Round(value, 6);
        return o;
    }

    public static string Show(long id, Func<long, string>? text) => text is null ? $"#{id}" : $"'{text(id)}'";
}
