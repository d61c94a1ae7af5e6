using Mechanist.Testing;

namespace Mechanist.Build.Tests;

/// <summary>
/// Which mechanist the gate runs, and that its version is an input: the version pinned in a local tool manifest wins
/// over one on the PATH, and updating it runs the check again. The tool here is a small stand-in package
/// (Mechanist.Cli, command mechanist) that says which version it is and forwards to the CLI built in this repository;
/// the real packed tool is exercised by <see cref="ToolPackageTests"/>.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class LocalToolTests(PackageFeed feed)
{
    static string Sample => Path.Combine(Repo.Root, "samples", "model-release");

    /// <summary>Packs the stand-in tool at <paramref name="version"/> into the feed.</summary>
    void PackStandIn(string version)
    {
        var project = Path.Combine(feed.Root, "stand-in");
        if (!Directory.Exists(project))
        {
            Directory.CreateDirectory(project);
            File.WriteAllText(Path.Combine(project, "StandIn.csproj"), """
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <PackAsTool>true</PackAsTool>
                    <ToolCommandName>mechanist</ToolCommandName>
                    <PackageId>Mechanist.Cli</PackageId>
                    <NuGetAudit>false</NuGetAudit>
                  </PropertyGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(project, "Program.cs"), $$"""
                using System.Diagnostics;
                using System.Reflection;
                var version = typeof(Marker).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
                Console.WriteLine($"stand-in mechanist {version} from the local tool manifest");
                var start = new ProcessStartInfo("dotnet") { UseShellExecute = false };
                start.ArgumentList.Add(@"{{Dotnet.CliDll}}");
                foreach (var a in args) start.ArgumentList.Add(a);
                using var p = Process.Start(start)!;
                p.WaitForExit();
                return p.ExitCode;
                sealed class Marker { }
                """);
        }
        var pack = Dotnet.Run(project, feed.Environment, "pack", "-c", "Release", "-o", feed.Feed, $"-p:Version={version}", "-p:NuGetAudit=false");
        Assert.True(pack.ExitCode == 0, pack.ToString());
    }

    [Fact]
    public void The_local_tool_manifest_wins_over_PATH_and_updating_it_runs_the_check_again()
    {
        string a = $"0.9.0-standin.a{Guid.NewGuid().ToString("N")[..8]}", b = $"0.9.0-standin.b{Guid.NewGuid().ToString("N")[..8]}";
        PackStandIn(a);
        PackStandIn(b);

        var dir = Path.Combine(feed.Root, "consumers", "local-tool");
        Directory.CreateDirectory(Path.Combine(dir, ".config"));
        File.WriteAllText(Path.Combine(dir, ".config", "dotnet-tools.json"), $$"""
            { "version": 1, "isRoot": true, "tools": { "mechanist.cli": { "version": "{{a}}", "commands": [ "mechanist" ], "rollForward": false } } }
            """);
        File.WriteAllText(Path.Combine(dir, "mechanist.json"), $$"""
            {
              "decompositions": { "resid": { "activations": "{{Path.Combine(Sample, "data", "activations.safetensors")}}", "path": "{{Path.Combine(Sample, "release", "resid")}}" } },
              "validations": [ { "method": "decomposition.quality" } ],
              "checks": { "MECH1004": "none" }
            }
            """);
        File.WriteAllText(Path.Combine(dir, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Mechanist.Build" Version="{feed.Version}" PrivateAssets="all" />
                <MechanistCheck Include="mechanist.json" />
              </ItemGroup>
            </Project>
            """);
        // Another mechanist on the PATH: it must not run.
        var path = Path.Combine(feed.Root, "path-tools");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "mechanist"), "#!/bin/sh\necho 'the mechanist on the PATH ran'\nexit 3\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(path, "mechanist"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var environment = new Dictionary<string, string>(feed.Environment) { ["PATH"] = path + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH") };

        var restore = Dotnet.Run(dir, environment, "tool", "restore", "--add-source", feed.Feed);
        Assert.True(restore.ExitCode == 0, restore.ToString());
        ProcessResult Build() => Dotnet.Run(dir, environment, "build", "Consumer.csproj", "--disable-build-servers", "-nodeReuse:false", "-v:n", "-p:UseSharedCompilation=false");

        var first = Build();
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains($"stand-in mechanist {a} from the local tool manifest", first.Output);
        Assert.DoesNotContain("the mechanist on the PATH ran", first.Output);
        Assert.Contains("Skipping target \"_MechanistRunChecks\"", Build().Output);

        // dotnet tool update of the local tool: the check runs again, with the new version.
        var update = Dotnet.Run(dir, environment, "tool", "update", "mechanist.cli", "--version", b, "--add-source", feed.Feed);
        Assert.True(update.ExitCode == 0, update.ToString());
        var updated = Build();
        Assert.True(updated.ExitCode == 0, updated.ToString());
        Assert.Contains($"stand-in mechanist {b} from the local tool manifest", updated.Output);
    }

    [Fact]
    public void The_resolver_prefers_the_tool_path_then_the_local_manifest_then_PATH_then_global_tools()
    {
        using var temp = new TempDir();
        var project = temp.File("repo/src/app");
        Directory.CreateDirectory(project);
        var bin = temp.File("bin");
        var home = temp.File("home");
        Directory.CreateDirectory(bin);
        Directory.CreateDirectory(Path.Combine(home, ".dotnet", "tools", ".store", "mechanist.cli", "1.0.0"));
        File.WriteAllText(Path.Combine(home, ".dotnet", "tools", "mechanist"), "global");
        var env = new Dictionary<string, string?> { ["PATH"] = bin, ["HOME"] = home };
        string? Env(string name) => env.GetValueOrDefault(name);

        var global = ToolResolver.Resolve(null, project, Env);
        Assert.Equal(Path.Combine(home, ".dotnet", "tools", "mechanist"), global.Program);
        Assert.EndsWith("|store:1.0.0", global.Identity);
        Directory.CreateDirectory(Path.Combine(home, ".dotnet", "tools", ".store", "mechanist.cli", "1.1.0"));
        Assert.NotEqual(global.Identity, ToolResolver.Resolve(null, project, Env).Identity); // dotnet tool update -g

        File.WriteAllText(Path.Combine(bin, "mechanist"), "on the path");
        Assert.Equal(Path.Combine(bin, "mechanist"), ToolResolver.Resolve(null, project, Env).Program);

        // A manifest above the project that lists other tools only does not count; one that lists mechanist wins.
        Directory.CreateDirectory(temp.File("repo/.config"));
        File.WriteAllText(temp.File("repo/.config/dotnet-tools.json"), """{ "version": 1, "isRoot": true, "tools": { "dotnet-ef": { "version": "9.0.0", "commands": [ "dotnet-ef" ] } } }""");
        Assert.Equal(Path.Combine(bin, "mechanist"), ToolResolver.Resolve(null, project, Env).Program);
        File.WriteAllText(temp.File("repo/.config/dotnet-tools.json"), """
            { "version": 1, "isRoot": true, "tools": {
                "dotnet-ef": { "version": "9.0.0", "commands": [ "dotnet-ef" ] },
                "mechanist.cli": { "version": "0.2.0", "commands": [ "mechanist" ] } } }
            """);
        var local = ToolResolver.Resolve(null, project, Env);
        Assert.Equal(("dotnet", "mechanist"), (local.Program, local.FirstArgument));
        Assert.Contains("0.2.0", local.Identity);
        File.WriteAllText(temp.File("repo/.config/dotnet-tools.json"), File.ReadAllText(temp.File("repo/.config/dotnet-tools.json")).Replace("0.2.0", "0.3.0"));
        Assert.NotEqual(local.Identity, ToolResolver.Resolve(null, project, Env).Identity);

        // An explicit tool path wins; a .dll runs with the dotnet host; rebuilding it changes its identity.
        var dll = temp.File("mechanist.dll");
        File.WriteAllText(dll, "v1");
        var explicitTool = ToolResolver.Resolve(dll, project, Env);
        Assert.Equal(("dotnet", dll), (explicitTool.Program, explicitTool.FirstArgument));
        File.WriteAllText(dll, "v2 longer");
        Assert.NotEqual(explicitTool.Identity, ToolResolver.Resolve(dll, project, Env).Identity);
    }
}
