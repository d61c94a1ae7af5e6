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

/// <summary>Check IDs: Mechanist's MECH and four digits, a plugin's own prefix, and the regression check that watches each.</summary>
public sealed class CheckIdTests
{
    [Theory]
    [InlineData("MECH1001", true)]
    [InlineData("ACME0001", true)]
    [InlineData("SA1302", true)]
    [InlineData("xUnit1004", true)]
    [InlineData("MODA4001", true)]
    [InlineData("MECH10001", false)]  // MECH has exactly four digits
    [InlineData("mech101", false)]
    [InlineData("Mech1001", false)]   // MECH in another case is neither the host's ID nor a plugin's prefix (as the schema says)
    [InlineData("A1", false)]         // a prefix of at least two letters
    [InlineData("ACME", false)]
    [InlineData("ACME-0001", false)]
    [InlineData("1001", false)]
    [InlineData("ACME0001x", false)]
    public void Check_ids_are_a_prefix_of_letters_then_digits(string id, bool valid) => Assert.Equal(valid, CheckDescriptor.IsValidId(id));

    [Fact]
    public void Every_host_check_has_a_page_and_a_row_in_the_release_table()
    {
        var table = File.ReadAllText(Path.Combine(Repo.Root, "docs", "checks", "README.md"));
        foreach (var check in InfrastructureChecks.All)
        {
            Assert.True(File.Exists(Path.Combine(Repo.Root, check.HelpLink)), $"doc page {check.HelpLink}");
            Assert.Contains($"| [{check.Id}]({check.Id}.md) | {check.Title} | {check.Category} |", table);
        }
    }

    [Fact]
    public void A_plugin_check_regresses_under_its_category_and_a_MECH_check_under_its_digit()
    {
        static CheckDescriptor Check(string id, string category) => new(id, "t", "m", category, Severity.Warning, "docs/checks/x.md");
        Assert.Same(RegressionChecks.DecompositionRegressed, RegressionChecks.For(Check("MECH1001", "Decomposition")));
        Assert.Same(RegressionChecks.InterpretationRegressed, RegressionChecks.For(Check("MODA4001", "Interpretation")));
        Assert.Same(RegressionChecks.CausalRegressed, RegressionChecks.For(Check("ACME0007", "Causal")));
        Assert.Same(RegressionChecks.OtherRegressed, RegressionChecks.For(Check("ACME1001", "Style")));
    }
}
