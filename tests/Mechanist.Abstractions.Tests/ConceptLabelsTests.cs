using Mechanist.Concepts;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Abstractions.Tests;

public class ConceptLabelsTests
{
    [Fact]
    public void Labels_round_trip_with_their_class_names_and_tokens()
    {
        using var temp = new TempDir();
        var path = temp.File("labels.safetensors");
        var tokens = tensor(new long[] { 0, 1, 2, 0, 3, 4 }).view(2, 3);
        ConceptLabels.Save(path, [2, 3], [new Concept("depth", [0, 1, 0, 0, 1, 0], ["0", "1"]), new Concept("kind", [0, 1, 2, 0, 1, 2], ["bos", "open", "close"])], tokens);
        var labels = ConceptLabels.Load(path);
        Assert.Equal(["depth", "kind"], labels.Names);
        Assert.Equal([2L, 3L], labels.Shape);
        Assert.Equal(["bos", "open", "close"], labels["kind"].Classes);
        Assert.Equal(new long[] { 0, 1, 2, 0, 1, 2 }, labels["kind"].Labels);
        Assert.True(TensorAssert.Identical(tokens, labels.Tokens!));
        Assert.Equal(2, labels["kind"].ClassIndex("close"));
        Assert.Equal(1, labels["kind"].ClassIndex("1"));
        Assert.Equal(new long[] { 2, 2, 2 }, labels["kind"].ClassCounts());
        var shuffled = labels["kind"].Shuffled(3);
        Assert.Equal(labels["kind"].ClassCounts(), shuffled.ClassCounts());
        Assert.Equal("U8", Safetensors.ReadHeader(path).Entries["concept.kind"].DType);
    }

    [Fact]
    public void Bad_label_files_are_input_errors_naming_the_file_and_tensor()
    {
        using var temp = new TempDir();
        string Write(string name, Dictionary<string, Tensor> tensors, Dictionary<string, string>? meta = null)
        {
            var path = temp.File(name);
            Safetensors.Write(path, tensors, meta);
            return path;
        }
        string Error(string path) => Assert.Throws<MechanistInputException>(() => ConceptLabels.Load(path)).Message;

        Assert.Contains("no concept labels", Error(Write("none.safetensors", new() { ["tokens"] = zeros(2, 2, ScalarType.Int64) })));
        Assert.Contains("'concept.x' has dtype F32", Error(Write("float.safetensors", new() { ["concept.x"] = zeros(2, 2) })));
        Assert.Contains("negative label", Error(Write("negative.safetensors", new() { ["concept.x"] = tensor(new long[] { 0, -1 }) })));
        Assert.Contains("every concept labels the same tokens",
            Error(Write("shapes.safetensors", new() { ["concept.a"] = zeros(2, 3, ScalarType.Int64), ["concept.b"] = zeros(3, 2, ScalarType.Int64) })));
        Assert.Contains("has label 2 but 'concept.x.classes' names 2 classes",
            Error(Write("beyond.safetensors", new() { ["concept.x"] = tensor(new long[] { 0, 2 }) }, new() { ["concept.x.classes"] = "[\"a\",\"b\"]" })));
        Assert.Contains("must be a JSON list of distinct class names",
            Error(Write("meta.safetensors", new() { ["concept.x"] = tensor(new long[] { 0, 1 }) }, new() { ["concept.x.classes"] = "[\"a\",\"a\"]" })));
        Assert.Contains("tensor 'tokens' has shape [3]",
            Error(Write("tokens.safetensors", new() { ["concept.x"] = tensor(new long[] { 0, 1 }), ["tokens"] = zeros(3, ScalarType.Int64) })));

        var labels = ConceptLabels.Load(Write("ok.safetensors", new() { ["concept.flat"] = zeros(4, ScalarType.Int64), ["concept.two"] = tensor(new long[] { 0, 1, 0, 1 }) }));
        Assert.Contains("only one class", Assert.Throws<MechanistInputException>(() => labels.Select(["flat"])).Message);
        Assert.Contains("4 labels", Assert.Throws<MechanistInputException>(() => labels.RequireRows(5, "the activations")).Message);
        Assert.Contains("Did you mean 'two'", Assert.Throws<MechanistInputException>(() => labels["tow"]).Message);
    }
}
