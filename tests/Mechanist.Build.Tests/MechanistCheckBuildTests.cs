using Mechanist.Testing;

namespace Mechanist.Build.Tests;

/// <summary>
/// The Mechanist.Build package as a user meets it: a real consumer project in a temporary folder references the packed
/// package and is built with <c>dotnet build</c>. The check runs the CLI built in this repository (MechanistToolPath).
/// </summary>
public sealed class MechanistCheckBuildTests(PackageFeed feed) : IClassFixture<PackageFeed>
{
    static string Sample => Path.Combine(Repo.Root, "samples", "model-release");

    const string SkippedRun = "Skipping target \"_MechanistRunChecks\" because all output files are up-to-date";
    const string Summary = "mechanist check ";

    /// <summary>A consumer project with the sample's activations and release folder; <paramref name="items"/> are its MechanistCheck items.</summary>
    string Consumer(string name, string items, params (string File, string Text)[] files)
    {
        var dir = Path.Combine(feed.Root, "consumers", name);
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        Directory.CreateDirectory(Path.Combine(dir, "release", "resid"));
        File.Copy(Path.Combine(Sample, "data", "activations.safetensors"), Path.Combine(dir, "data", "activations.safetensors"));
        foreach (var f in Directory.GetFiles(Path.Combine(Sample, "release", "resid")))
            File.Copy(f, Path.Combine(dir, "release", "resid", Path.GetFileName(f)));
        // The configs name the released model as ../models/modular-addition, as in the repository.
        var model = Path.Combine(feed.Root, "consumers", "models", "modular-addition");
        if (!Directory.Exists(model))
        {
            Directory.CreateDirectory(model);
            foreach (var f in Directory.GetFiles(Path.Combine(Sample, "..", "models", "modular-addition")))
                File.Copy(f, Path.Combine(model, Path.GetFileName(f)));
        }
        File.Copy(Path.Combine(Sample, "mechanist.json"), Path.Combine(dir, "mechanist.json"));
        File.Copy(Path.Combine(Sample, "mechanist.failing.json"), Path.Combine(dir, "mechanist.failing.json"));
        foreach (var (file, text) in files) File.WriteAllText(Path.Combine(dir, file), text);
        File.WriteAllText(Path.Combine(dir, "Release.cs"), "namespace Consumer;\n\npublic static class Release { }\n");
        File.WriteAllText(Path.Combine(dir, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <MechanistToolPath>{Dotnet.CliDll}</MechanistToolPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Mechanist.Build" Version="{feed.Version}" PrivateAssets="all" />
                {items}
              </ItemGroup>
            </Project>
            """);
        return dir;
    }

    ProcessResult Build(string dir, params string[] properties) =>
        Dotnet.Run(dir, feed.Environment, ["build", "Consumer.csproj", "--disable-build-servers", "-nodeReuse:false", "-v:n",
            "-p:UseSharedCompilation=false", .. properties]);

    static void AssertPassed(ProcessResult r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Build succeeded.", r.Output);
    }

    static void AssertFailedWith(ProcessResult r, params string[] expected)
    {
        Assert.True(r.ExitCode != 0, r.ToString());
        foreach (var text in expected) Assert.True(r.Output.Contains(text, StringComparison.Ordinal), $"expected '{text}' in:\n{r}");
    }

    [Fact]
    public void A_passing_check_builds_and_an_unchanged_rebuild_skips_it()
    {
        var dir = Consumer("passing", """<MechanistCheck Include="mechanist.json" />""");
        var first = Build(dir);
        AssertPassed(first);
        Assert.Contains($"{Summary}{Path.Combine(dir, "mechanist.json")}: 0 errors, 0 warnings, 2 suggestions", first.Output);
        var report = Assert.Single(Directory.GetFiles(Path.Combine(dir, "obj", "Debug", "net10.0", "mechanist"), "*.sarif"));
        Assert.Contains("\"ruleId\": \"MECH1004\"", File.ReadAllText(report));

        var second = Build(dir);
        AssertPassed(second);
        Assert.Contains(SkippedRun, second.Output);
        Assert.DoesNotContain(Summary, second.Output);

        // A file the check read (here the activations) changed: the check runs again.
        File.SetLastWriteTimeUtc(Path.Combine(dir, "data", "activations.safetensors"), DateTime.UtcNow);
        var third = Build(dir);
        AssertPassed(third);
        Assert.Contains(Summary, third.Output);
        Assert.DoesNotContain(SkippedRun, third.Output);
    }

    [Fact]
    public void A_violated_threshold_fails_the_build_with_its_check_ID_every_time()
    {
        var dir = Consumer("failing", """<MechanistCheck Include="mechanist.failing.json" />""");
        var config = Path.Combine(dir, "mechanist.failing.json");
        var first = Build(dir);
        AssertFailedWith(first, $"{config}(7,5): error MECH1001: explained variance 0.9449 is below the threshold 0.97");
        // Not skipped: a failed check leaves no stamp, so it runs (and fails) again.
        var second = Build(dir);
        AssertFailedWith(second, "error MECH1001");
        Assert.DoesNotContain(SkippedRun, second.Output);
        // MechanistEnabled=false turns the check off.
        var off = Build(dir, "-p:MechanistEnabled=false");
        AssertPassed(off);
        Assert.DoesNotContain(Summary, off.Output);
    }

    [Fact]
    public void Warnings_obey_NoWarn_WarningsAsErrors_and_TreatWarningsAsErrors()
    {
        // decomposition.quality at its defaults: MECH1004 (53% of the released SAE's latents are dense) is a warning.
        var dir = Consumer("warnings", """<MechanistCheck Include="defaults.json" />""", ("defaults.json", """
            {
              "device": "cpu",
              "decompositions": { "resid": { "activations": "data/activations.safetensors", "path": "release/resid" } },
              "validations": [ { "method": "decomposition.quality" } ]
            }
            """));
        var config = Path.Combine(dir, "defaults.json");
        var plain = Build(dir);
        AssertPassed(plain);
        Assert.Contains($"{config}(3,23): warning MECH1004: 53.13% of latents fire on more than 10% of rows", plain.Output);

        var suppressed = Build(dir, "-p:NoWarn=MECH1004");
        AssertPassed(suppressed);
        Assert.Contains(Summary, suppressed.Output); // the changed setting reran the check
        Assert.DoesNotContain("warning MECH1004", suppressed.Output);

        AssertFailedWith(Build(dir, "-p:WarningsAsErrors=MECH1004"), $"{config}(3,23): error MECH1004");
        AssertFailedWith(Build(dir, "-p:TreatWarningsAsErrors=true"), $"{config}(3,23): error MECH1004");
        var excepted = Build(dir, "-p:TreatWarningsAsErrors=true", "-p:WarningsNotAsErrors=MECH1004");
        AssertPassed(excepted);
        Assert.Contains("warning MECH1004", excepted.Output);
        // Back to plain: passes again (the failed runs left no stamp).
        AssertPassed(Build(dir));
    }

    [Fact]
    public void A_missing_model_a_mistyped_key_and_an_unknown_check_ID_are_errors_with_codes_all_reported_in_one_build()
    {
        var dir = Consumer("bad-input", """
            <MechanistCheck Include="models/mymodel" Config="mechanist.json" />
                <MechanistCheck Include="typo.json" />
                <MechanistCheck Include="unknown.json" />
            """,
            ("typo.json", """
                {
                  "decompositions": { "resid": { "activations": "data/activations.safetensors", "path": "release/resid" } },
                  "validatons": [ { "method": "decomposition.quality" } ]
                }
                """),
            ("unknown.json", """
                {
                  "decompositions": { "resid": { "activations": "data/activations.safetensors", "path": "release/resid" } },
                  "validations": [ { "method": "decomposition.quality" } ],
                  "checks": { "MECH1101": "error" }
                }
                """));
        AssertFailedWith(Build(dir),
            $"{Path.Combine(dir, "mechanist.json")}(1,1): error MECH0011: model folder {Path.Combine(dir, "models", "mymodel")} not found.",
            $"{Path.Combine(dir, "typo.json")}(3,3): error MECH0010: unknown key 'validatons' in the configuration. Did you mean 'validations'?",
            $"{Path.Combine(dir, "unknown.json")}(4,15): error MECH0003: unknown check 'MECH1101'; did you mean 'MECH1001'");
    }

    [Fact]
    public void A_missing_tool_is_an_error_with_a_code()
    {
        var dir = Consumer("missing-tool", """<MechanistCheck Include="mechanist.json" />""");
        AssertFailedWith(Build(dir, $"-p:MechanistToolPath={Path.Combine(dir, "nowhere", "mechanist.dll")}"),
            $"{Path.Combine(dir, "mechanist.json")}(1,1): error MECH0012: mechanist check exited with code");
    }
}
