using Mechanist.Testing;

namespace Mechanist.Build.Tests;

/// <summary>
/// A temporary folder feed holding Mechanist.Build packed once per test run, with a version no other run uses (a
/// re-packed package of an existing version would be served stale from the NuGet cache), a nuget.config that adds
/// only that folder (the default sources stay inherited), and an isolated package cache, all deleted afterwards.
/// </summary>
public sealed class PackageFeed : IDisposable
{
    public PackageFeed()
    {
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Feed);
        File.WriteAllText(Path.Combine(Root, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="mechanist-test-feed" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
        var pack = Dotnet.Run(Repo.Root, Environment,
            "pack", Path.Combine(Repo.Root, "src", "Mechanist.Build", "Mechanist.Build.csproj"), "-c", Dotnet.Configuration, "--no-build",
            "-o", Feed, $"-p:Version={Version}", $"-p:NuspecOutputPath={Path.Combine(Root, "nuspec")}/");
        if (pack.ExitCode != 0) throw new InvalidOperationException("dotnet pack Mechanist.Build failed: " + pack);
        PackTime = pack.Elapsed;
    }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "mechanist-tests", "build-" + Guid.NewGuid().ToString("N")[..12]);

    public string Feed => Path.Combine(Root, "feed");

    public string Version { get; } = $"0.1.0-test.t{Guid.NewGuid().ToString("N")[..10]}";

    public TimeSpan PackTime { get; }

    /// <summary>The isolated package cache every dotnet command of these tests uses.</summary>
    /// <summary>
    /// A consumer project that references this feed's Mechanist.Build and runs the CLI of this build; <paramref name="items"/>
    /// are its item lines (MechanistCheck items, package references).
    /// </summary>
    public string ConsumerProject(string items) => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <TargetFramework>net10.0</TargetFramework>
            <MechanistToolPath>{Dotnet.CliDll}</MechanistToolPath>
          </PropertyGroup>
          <ItemGroup>
            <PackageReference Include="Mechanist.Build" Version="{Version}" PrivateAssets="all" />
            {items}
          </ItemGroup>
        </Project>
        """;

    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(Root, "packages") };

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// The test classes that build consumers share one feed (Mechanist.Build packed once) and run one after another: real
/// builds on a shared machine are faster in turn than side by side.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PackageFeedCollection : ICollectionFixture<PackageFeed>
{
    public const string Name = "package feed";
}
