using System.IO.Compression;
using System.Reflection;
using System.Text.Json.Nodes;
using Mechanist.Testing;
using Xunit.Abstractions;

namespace Mechanist.Build.Tests;

/// <summary>
/// A third party's path, outside the repository, with only packages packed from it in a local folder feed (no other
/// source: the packages the generated projects need besides ours come from this machine's package folder, as a
/// read-only fallback): <c>dotnet new mechanist-plugin</c>, <c>dotnet test</c> (Mechanist.Testing's verifiers run and
/// pass), <c>dotnet pack</c> (a plugin package), then a consumer that references Mechanist.Build and the plugin package
/// gates a model with the plugin's validator: its check ID in the MSBuild error and in SARIF, with no folder path
/// written anywhere. Every package gets a version no other run uses.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class PluginTemplateTests(PackageFeed feed, ITestOutputHelper output)
{
    static string Sample => Path.Combine(Repo.Root, "samples", "model-release");

    /// <summary>This machine's NuGet package folder, as the build of this test saw it.</summary>
    static string MachinePackages => typeof(PluginTemplateTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "NuGetPackageRoot").Value!;

    [Fact]
    public void A_plugin_made_from_the_template_tests_packs_and_gates_a_build_through_its_package()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var version = $"0.1.0-tpl.t{Guid.NewGuid().ToString("N")[..10]}";
        var work = Path.Combine(feed.Root, "third-party");
        Directory.CreateDirectory(work);
        foreach (var project in new[] { "src/Mechanist.Abstractions", "src/Mechanist.Sae", "src/Mechanist.Testing", "templates/Mechanist.Templates" })
        {
            var pack = Dotnet.Run(Repo.Root, feed.Environment, "pack", Path.Combine(Repo.Root, project), "-c", Dotnet.Configuration, "--no-build",
                "-o", feed.Feed, $"-p:Version={version}", $"-p:NuspecOutputPath={Path.Combine(feed.Root, "nuspec-" + Path.GetFileName(project))}/");
            Assert.True(pack.ExitCode == 0, pack.ToString());
        }
        foreach (var package in Directory.GetFiles(feed.Feed, $"*.{version}.nupkg"))
            output.WriteLine($"{Path.GetFileName(package)}: {new FileInfo(package).Length / 1024.0:0} KiB");

        File.WriteAllText(Path.Combine(work, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed.Feed}" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="machine" value="{MachinePackages}" />
              </fallbackPackageFolders>
            </configuration>
            """);
        // Offline: no vulnerability data to fetch; natives linked from the package folder rather than copied.
        File.WriteAllText(Path.Combine(work, "Directory.Build.props"), """
            <Project>
              <PropertyGroup>
                <NuGetAudit>false</NuGetAudit>
                <CreateHardLinksForCopyLocalIfPossible>true</CreateHardLinksForCopyLocalIfPossible>
              </PropertyGroup>
            </Project>
            """);

        // dotnet new, in a template hive of its own.
        var hive = Path.Combine(feed.Root, "template-hive");
        var install = Dotnet.Run(work, feed.Environment, "new", "install", Path.Combine(feed.Feed, $"Mechanist.Templates.{version}.nupkg"), "--debug:custom-hive", hive);
        Assert.True(install.ExitCode == 0, install.ToString());
        var create = Dotnet.Run(work, feed.Environment, "new", "mechanist-plugin", "-n", "Acme.Methods", "--debug:custom-hive", hive);
        Assert.True(create.ExitCode == 0, create.ToString());
        var plugin = Path.Combine(work, "Acme.Methods");
        Assert.Contains($"Version=\"{version}\"", File.ReadAllText(Path.Combine(plugin, "src", "Acme.Methods", "Acme.Methods.csproj")));

        // dotnet test: the verifiers over both methods, and the validator's findings on a dictionary with a copied latent.
        var test = Dotnet.Run(plugin, feed.Environment, "test", "--disable-build-servers", "-nodeReuse:false", "-p:UseSharedCompilation=false");
        Assert.True(test.ExitCode == 0, test.ToString());
        Assert.Contains("Passed!  - Failed:     0, Passed:     3", test.Output);
        var folder = Path.Combine(plugin, "src", "Acme.Methods", "bin", "Debug", "mechanist", "plugins", "Acme.Methods");
        Assert.True(File.Exists(Path.Combine(folder, "Acme.Methods.dll")), test.ToString());
        Assert.False(File.Exists(Path.Combine(folder, "TorchSharp.dll")), "the plugin folder carries TorchSharp");
        Assert.False(File.Exists(Path.Combine(folder, "Mechanist.Abstractions.dll")), "the plugin folder carries the contract");

        // dotnet pack: a plugin package, the plugin folder under mechanist/plugins/ and nothing else of its build.
        var pluginVersion = $"1.0.0-t{Guid.NewGuid().ToString("N")[..10]}";
        var packPlugin = Dotnet.Run(plugin, feed.Environment, "pack", "src/Acme.Methods", "-c", "Debug", "--no-build", "-o", feed.Feed, $"-p:Version={pluginVersion}");
        Assert.True(packPlugin.ExitCode == 0, packPlugin.ToString());
        var pluginPackage = Path.Combine(feed.Feed, $"Acme.Methods.{pluginVersion}.nupkg");
        using (var zip = ZipFile.OpenRead(pluginPackage))
        {
            var entries = zip.Entries.Select(e => e.FullName).Where(n => !n.StartsWith('_') && !n.StartsWith('[') && !n.StartsWith("package/", StringComparison.Ordinal) && !n.EndsWith(".nuspec", StringComparison.Ordinal)).Order().ToList();
            Assert.Equal([
                "mechanist/plugins/Acme.Methods/Acme.Methods.deps.json", "mechanist/plugins/Acme.Methods/Acme.Methods.dll", "mechanist/plugins/Acme.Methods/Acme.Methods.pdb",
                "mechanist/plugins/Acme.Methods/docs/checks/ACME1001.md", "mechanist/plugins/Acme.Methods/docs/methods/acme.duplicates.md", "mechanist/plugins/Acme.Methods/docs/methods/acme.kmeans.md",
            ], entries);
        }
        output.WriteLine($"{Path.GetFileName(pluginPackage)}: {new FileInfo(pluginPackage).Length / 1024.0:0} KiB");

        // A deliberately broken method: the same verifiers fail it, naming the method, the check and what is wrong.
        var kmeans = Path.Combine(plugin, "src", "Acme.Methods", "SphericalKMeans.cs");
        var source = File.ReadAllText(kmeans);
        Assert.Contains("new StandardSae(centroids.t(),", source);
        File.WriteAllText(kmeans, source.Replace("new StandardSae(centroids.t(),", "new StandardSae(centroids.t() * double.NaN,"));
        var broken = Dotnet.Run(plugin, feed.Environment, "test", "--disable-build-servers", "-nodeReuse:false", "-p:UseSharedCompilation=false");
        Assert.True(broken.ExitCode != 0, broken.ToString());
        Assert.Contains("Failed!  - Failed:     1, Passed:     2", broken.Output);
        Assert.Contains("holds NaN or infinity", broken.Output);
        File.WriteAllText(kmeans, source);

        // A gated consumer: the plugin package in a PackageReference is all it takes. The threshold -1 makes every
        // latent after the first a "duplicate" (a cosine is never below -1): ACME1001 is certain, and configured as an error.
        var consumer = Path.Combine(work, "consumer");
        Directory.CreateDirectory(consumer);
        File.WriteAllText(Path.Combine(consumer, "Release.cs"), "namespace Consumer;\n\npublic static class Release { }\n");
        File.WriteAllText(Path.Combine(consumer, "mechanist.json"), $$"""
            {
              "model": "{{Path.Combine(Sample, "..", "models", "modular-addition").Replace('\\', '/')}}",
              "device": "cpu",
              "dataset": { "task": "modular-addition", "options": { "samples": 64 } },
              "decompositions": { "mlp": { "site": "blocks.0.mlp.hook_post", "path": "{{Path.Combine(Sample, "release", "mlp").Replace('\\', '/')}}" } },
              "validations": [ { "method": "acme.duplicates" } ],
              "checks": { "ACME1001": { "severity": "error", "threshold": -1 } }
            }
            """);
        File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"), feed.ConsumerProject($"""
            <PackageReference Include="Acme.Methods" Version="{pluginVersion}" />
            <MechanistCheck Include="mechanist.json" />
            """));
        var build = Dotnet.Run(consumer, feed.Environment, "build", "--disable-build-servers", "-nodeReuse:false", "-p:UseSharedCompilation=false");
        Assert.True(build.ExitCode != 0, build.ToString());
        Assert.Contains("mechanist.json(5,23): error ACME1001: latent 1 duplicates latent 0", build.Output);
        Assert.DoesNotContain("MECH0", build.Output);
        var sarif = JsonNode.Parse(File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(consumer, "obj", "Debug", "net10.0", "mechanist"), "*.sarif"))))!["runs"]![0]!;
        var rule = sarif["tool"]!["driver"]!["rules"]!.AsArray().Single(r => (string)r!["id"]! == "ACME1001")!;
        var help = new Uri((string)rule["helpUri"]!);
        Assert.True(help.IsFile && File.Exists(help.LocalPath), help.ToString());
        Assert.Contains(Path.Combine("acme.methods", pluginVersion, "mechanist", "plugins", "Acme.Methods"), help.LocalPath);
        var results = sarif["results"]!.AsArray();
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.Equal("ACME1001", (string)r!["ruleId"]!));
        // The package's files are inputs of the check: a new version of the plugin runs it again.
        Assert.Contains(File.ReadAllLines(Assert.Single(Directory.GetFiles(Path.Combine(consumer, "obj", "Debug", "net10.0", "mechanist"), "*.inputs"))),
            l => l.EndsWith("Acme.Methods.dll", StringComparison.Ordinal));
        output.WriteLine($"from packing to the gated build: {watch.Elapsed.TotalSeconds:0} s (pack {feed.PackTime.TotalSeconds:0} s of Mechanist.Build before)");
    }
}
