using System.Text.Json.Nodes;
using Mechanist.BuildSupport;
using Mechanist.Testing;

namespace Mechanist.Build.Tests;

/// <summary>
/// The CLI as a dotnet tool: packed into a folder feed under a unique version, installed with
/// <c>dotnet tool install --tool-path</c>, and run, natives included. The pack reuses this build's output
/// (<c>--no-build</c>); it still compresses libtorch (about 150 MB packed, 800 MB installed).
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class ToolPackageTests(PackageFeed feed)
{
    static string Sample => Path.Combine(Repo.Root, "samples", "model-release");

    [Fact]
    public void The_packed_tool_installs_from_a_folder_feed_and_runs_with_its_natives()
    {
        var version = $"0.1.0-tool.t{Guid.NewGuid().ToString("N")[..10]}";
        var publish = Path.Combine(feed.Root, "tool-publish") + "/";
        var pack = Dotnet.Run(Repo.Root, feed.Environment, "pack", Path.Combine(Repo.Root, "src", "Mechanist.Cli", "Mechanist.Cli.csproj"),
            "-c", Dotnet.Configuration, "--no-build", "-o", feed.Feed, $"-p:Version={version}", $"-p:PublishDir={publish}",
            $"-p:NuspecOutputPath={Path.Combine(feed.Root, "nuspec-cli")}/");
        Assert.True(pack.ExitCode == 0, pack.ToString());
        Assert.True(File.Exists(Path.Combine(feed.Feed, $"Mechanist.Cli.{version}.nupkg")), pack.ToString());

        var tools = Path.Combine(feed.Root, "tools");
        var install = Dotnet.Run(feed.Root, feed.Environment, "tool", "install", "--tool-path", tools, "--add-source", feed.Feed,
            "Mechanist.Cli", "--version", version);
        Assert.True(install.ExitCode == 0, install.ToString());
        var mechanist = Path.Combine(tools, "mechanist");

        // The native library in the installed tool carries the LibTorchCompat patch (the pack used the publish output).
        var native = Assert.Single(Directory.GetFiles(tools, "libLibTorchSharp.so", SearchOption.AllDirectories));
        var requirement = ElfVersionPatcher.ReadRequirements(File.ReadAllBytes(native), native).SingleOrDefault(r => r.Version == "GLIBCXX_3.4.32");
        Assert.True(requirement is null || requirement.IsWeak, $"{native}: GLIBCXX_3.4.32 is not weak");

        var versionRun = Dotnet.Start(mechanist, feed.Root, feed.Environment, "--version");
        Assert.True(versionRun.ExitCode == 0, versionRun.ToString());
        Assert.StartsWith("mechanist ", versionRun.Output);

        // A tiny decomposition loads libtorch for real.
        var outDir = Path.Combine(feed.Root, "tool-pca");
        var decompose = Dotnet.Start(mechanist, feed.Root, feed.Environment, "decompose", "--activations",
            Path.Combine(Sample, "data", "activations.safetensors"), "--method", "pca", "--set", "components=4", "--device", "cpu", "--out", outDir);
        Assert.True(decompose.ExitCode == 0, decompose.ToString());
        Assert.True(File.Exists(Path.Combine(outDir, "sae_weights.safetensors")));

        // A release check that harvests from the model, with help links into the check pages shipped in the tool.
        var config = Path.Combine(feed.Root, "tool-check.json");
        File.WriteAllText(config, $$"""
            {
              "model": "{{Path.Combine(Sample, "..", "models", "modular-addition")}}",
              "device": "cpu",
              "dataset": { "task": "modular-addition", "options": { "samples": 128 } },
              "decompositions": { "mlp": { "site": "blocks.0.mlp.hook_post", "path": "{{Path.Combine(Sample, "release", "mlp")}}" } },
              "validations": [ { "method": "decomposition.quality" } ],
              "checks": { "MECH1003": "none", "MECH1004": "none" }
            }
            """);
        var check = Dotnet.Start(mechanist, feed.Root, feed.Environment, "check", config, "--format", "sarif");
        Assert.True(check.ExitCode == 0, check.ToString());
        var sarifRun = JsonNode.Parse(check.Output)!["runs"]![0]!;
        Assert.Equal(384, (int)sarifRun["properties"]!["harvests"]![0]!["rows"]!);
        var rules = sarifRun["tool"]!["driver"]!["rules"]!.AsArray();
        var help = new Uri((string)rules.Single(r => (string)r!["id"]! == "MECH1001")!["helpUri"]!);
        Assert.True(help.IsFile && File.Exists(help.LocalPath) && help.LocalPath.StartsWith(tools, StringComparison.Ordinal), help.ToString());
        Assert.Equal(1, Dotnet.Start(mechanist, feed.Root, feed.Environment, "check", Path.Combine(Sample, "mechanist.failing.json")).ExitCode);
    }
}
