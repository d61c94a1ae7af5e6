using Microsoft.Build.Framework;

namespace Mechanist.Build;

/// <summary>
/// Finds the mechanist program a check will run (<see cref="ToolResolver"/>) and gives its identity, which the
/// targets write to a file that is an input of every check: a new tool version runs the checks again.
/// </summary>
public sealed class MechanistResolveTool : Microsoft.Build.Utilities.Task
{
    /// <summary>MechanistToolPath, when set.</summary>
    public string? ToolPath { get; set; }

    [Required]
    public string ProjectDirectory { get; set; } = "";

    [Output]
    public string Identity { get; private set; } = "";

    [Output]
    public string Source { get; private set; } = "";

    public override bool Execute()
    {
        var tool = ToolResolver.Resolve(ToolPath, ProjectDirectory);
        Identity = tool.Identity;
        Source = tool.Source;
        Log.LogMessage(MessageImportance.Low, "mechanist: the check runs {0} ({1})", tool.Source, tool.Identity);
        return true;
    }
}
