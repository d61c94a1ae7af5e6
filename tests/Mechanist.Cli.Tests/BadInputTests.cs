using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Cli.Tests;

/// <summary>Every bad input: exit code 2, one clear line naming the file/key/option and what was expected, no output written.</summary>
public class BadInputTests
{
    internal static void AssertBadInput(CliResult r, TempDir temp, string outName, params string[] expected)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("mechanist: error: ", line);
        foreach (var text in expected) Assert.Contains(text, line);
        Assert.False(Directory.Exists(temp.File(outName)) || File.Exists(temp.File(outName)), $"{outName} must not exist");
        Assert.DoesNotContain(temp.Entries(), e => e.EndsWith(".tmp", StringComparison.Ordinal));
    }

    static CliResult Decompose(TempDir temp, string activations, params string[] extra) =>
        Cli.Run(["decompose", "--activations", activations, "--method", "pca", "--out", temp.File("out"), .. extra]);

    [Fact]
    public void Missing_file()
    {
        using var temp = new TempDir();
        var path = temp.File("nope.safetensors");
        AssertBadInput(Decompose(temp, path), temp, "out", path, "not found");
    }

    [Fact]
    public void Truncated_safetensors()
    {
        using var temp = new TempDir();
        var good = TestData.WithTensor(temp.Path, "good.safetensors", "activations", randn(16, 4));
        var bytes = File.ReadAllBytes(good);
        var cut = temp.File("cut.safetensors");
        File.WriteAllBytes(cut, bytes[..^20]);
        AssertBadInput(Decompose(temp, cut), temp, "out", cut, "'activations'", "truncated");
    }

    [Fact]
    public void Header_length_past_end_of_file()
    {
        using var temp = new TempDir();
        var path = TestData.RawSafetensors(temp.Path, "h.safetensors", "{}", 0, declaredLength: 4096);
        AssertBadInput(Decompose(temp, path), temp, "out", path, "header length 4096", "past the end");
    }

    [Fact]
    public void File_shorter_than_the_header_length_field()
    {
        using var temp = new TempDir();
        var path = temp.File("tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        AssertBadInput(Decompose(temp, path), temp, "out", path, "shorter than the 8-byte header length");
    }

    [Fact]
    public void Wrong_dtype()
    {
        using var temp = new TempDir();
        var path = TestData.WithTensor(temp.Path, "ints.safetensors", "activations", ones(4, 3, ScalarType.Int64));
        AssertBadInput(Decompose(temp, path), temp, "out", path, "'activations'", "dtype I64", "floating-point");
    }

    [Fact]
    public void One_dimensional_tensor()
    {
        using var temp = new TempDir();
        var path = TestData.WithTensor(temp.Path, "flat.safetensors", "activations", ones(12));
        AssertBadInput(Decompose(temp, path), temp, "out", path, "'activations'", "[12]", "2-D matrix");
    }

    [Fact]
    public void Missing_activations_key()
    {
        // A file with one tensor is read whatever its name (mechanist harvest names it by the site); with several, the name must be given.
        using var temp = new TempDir();
        var path = Path.Combine(temp.Path, "other.safetensors");
        Mechanist.IO.Safetensors.Write(path, new Dictionary<string, TorchSharp.torch.Tensor> { ["resid"] = ones(4, 3), ["mlp"] = ones(4, 5) });
        AssertBadInput(Decompose(temp, path), temp, "out", path, "no tensor named 'activations'", "found: mlp, resid");
    }

    [Fact]
    public void Nan_in_activations()
    {
        using var temp = new TempDir();
        var x = ones(5, 3);
        x[3, 1] = tensor(float.NaN);
        var path = TestData.WithTensor(temp.Path, "nan.safetensors", "activations", x);
        AssertBadInput(Decompose(temp, path), temp, "out", path, "NaN at row 3, column 1");
    }

    [Fact]
    public void Unknown_method_suggests_the_closest()
    {
        using var temp = new TempDir();
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(16, 4));
        var r = Cli.Run("decompose", "--activations", data, "--method", "pcs", "--out", temp.File("out"));
        AssertBadInput(r, temp, "out", "MECH0003", "unknown decomposer 'pcs'", "did you mean 'pca'?");
    }

    [Fact]
    public void Unknown_set_option_suggests_the_closest()
    {
        using var temp = new TempDir();
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(16, 4));
        AssertBadInput(Decompose(temp, data, "--set", "componets=2"), temp, "out",
            "unknown option 'componets' for method 'pca'", "Did you mean 'components'?");
    }

    [Fact]
    public void Set_value_of_the_wrong_type()
    {
        using var temp = new TempDir();
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(16, 4));
        AssertBadInput(Decompose(temp, data, "--set", "components=many"), temp, "out", "option 'components'", "expects an integer", "'many'");
    }

    [Fact]
    public void Set_value_that_fails_validation()
    {
        using var temp = new TempDir();
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(16, 4));
        AssertBadInput(Decompose(temp, data, "--set", "components=0"), temp, "out", "components", "at least 1");
    }

    [Fact]
    public void More_components_than_dimensions()
    {
        using var temp = new TempDir();
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(16, 4));
        AssertBadInput(Decompose(temp, data, "--set", "components=9"), temp, "out", "'components'", "dimension 4");
    }

    [Fact]
    public void Unknown_command_line_option_suggests_the_closest()
    {
        using var temp = new TempDir();
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(16, 4));
        AssertBadInput(Decompose(temp, data, "--sead", "3"), temp, "out", "unknown option '--sead'", "Did you mean '--seed'?");
    }

    [Fact]
    public void Missing_required_option()
    {
        using var temp = new TempDir();
        var r = Cli.Run("decompose", "--method", "pca", "--out", temp.File("out"));
        AssertBadInput(r, temp, "out", "needs --activations");
    }

    [Fact]
    public void Unknown_extension()
    {
        using var temp = new TempDir();
        var path = temp.File("x.csv");
        File.WriteAllText(path, "1,2\n3,4\n");
        AssertBadInput(Decompose(temp, path), temp, "out", path, "'.csv'", ".safetensors", ".npy");
    }

    [Fact]
    public void Ground_truth_of_the_wrong_width()
    {
        using var temp = new TempDir();
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(16, 4));
        var truth = TestData.WithTensor(temp.Path, "t.safetensors", "directions", randn(3, 5));
        AssertBadInput(Decompose(temp, data, "--ground-truth", truth), temp, "out", truth, "'directions'", "[3, 5]", "[n, 4]");
    }

    [Fact]
    public void Evaluate_with_mismatched_d_in()
    {
        using var temp = new TempDir();
        var data4 = TestData.WithTensor(temp.Path, "x4.safetensors", "activations", randn(16, 4));
        var data5 = TestData.WithTensor(temp.Path, "x5.safetensors", "activations", randn(16, 5));
        Assert.Equal(0, Cli.Run("decompose", "--activations", data4, "--method", "pca", "--set", "components=2", "--out", temp.File("sae")).ExitCode);
        var r = Cli.Run("evaluate", "--decomposition", temp.File("sae"), "--activations", data5, "--out", temp.File("report.json"));
        AssertBadInput(r, temp, "report.json", "d_in = 4", data5, "dimension 5");
    }

    [Fact]
    public void Unknown_format_and_device()
    {
        using var temp = new TempDir();
        AssertBadInput(Cli.Run("plugins", "list", "--format", "jsno"), temp, "out", "--format", "text|json", "Did you mean 'json'?");
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(16, 4));
        AssertBadInput(Decompose(temp, data, "--device", "tpu"), temp, "out", "--device", "'tpu'");
    }

    [Fact]
    public void Missing_plugin_folder()
    {
        using var temp = new TempDir();
        var missing = temp.File("no-plugins");
        AssertBadInput(Cli.Run("plugins", "list", "--plugins", missing), temp, "no-plugins", missing, "plugin folder not found");
    }

    [Fact]
    public void A_throwing_plugin_method_is_MECH0001_exit_1_and_writes_nothing()
    {
        using var temp = new TempDir();
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(16, 4));
        var r = Cli.Run("decompose", "--plugins", Cli.FaultyPlugin, "--activations", data, "--method", "test.throws", "--out", temp.File("out"));
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("error MECH0001: decomposer 'test.throws' threw InvalidOperationException: planted failure in Fit", r.Error);
        Assert.False(Directory.Exists(temp.File("out")));
    }

    [Fact]
    public void A_failed_run_keeps_the_previous_output_whole()
    {
        using var temp = new TempDir();
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(16, 4));
        Assert.Equal(0, Cli.Run("decompose", "--activations", data, "--method", "pca", "--set", "components=2", "--out", temp.File("out")).ExitCode);
        var before = File.ReadAllBytes(Path.Combine(temp.File("out"), "sae_weights.safetensors"));
        var r = Cli.Run("decompose", "--plugins", Cli.FaultyPlugin, "--activations", data, "--method", "test.throws", "--out", temp.File("out"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(temp.File("out"), "sae_weights.safetensors")));
    }

    [Fact]
    public void Verbose_adds_the_stack_trace()
    {
        using var temp = new TempDir();
        var r = Cli.Run("decompose", "--activations", temp.File("missing.npy"), "--method", "pca", "--out", temp.File("out"), "--verbose");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("   at ", r.Error);
    }
}
