using Mechanist.Host.Checks;
using Mechanist.Testing;
using Mechanist.Validators;

namespace Mechanist.Host.Tests;

/// <summary>MECH0010-MECH0012: valid, distinct from the host's other IDs, documented and listed in the release table.</summary>
public sealed class ConfigurationChecksTests
{
    [Fact]
    public void Every_configuration_check_has_a_page_and_a_row_in_the_release_table()
    {
        var table = File.ReadAllText(Path.Combine(Repo.Root, "docs", "checks", "README.md"));
        foreach (var check in ConfigurationChecks.All)
        {
            Assert.True(CheckDescriptor.IsValidId(check.Id), check.Id);
            Assert.DoesNotContain(InfrastructureChecks.All, c => c.Id == check.Id);
            Assert.Equal(Severity.Error, check.DefaultSeverity);
            Assert.True(File.Exists(Path.Combine(Repo.Root, check.HelpLink)), $"doc page {check.HelpLink}");
            Assert.Contains($"| [{check.Id}]({check.Id}.md) | {check.Title} | {check.Category} | error |", table);
        }
    }
}
