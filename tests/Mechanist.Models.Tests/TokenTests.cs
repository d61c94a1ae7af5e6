using Mechanist.Models.Text;
using Mechanist.Testing;

namespace Mechanist.Models.Tests;

public class TokenTests
{
    [Fact]
    public void Gpt2_bpe_matches_known_encodings()
    {
        Assert.Equal([15496, 995], Gpt2Tokenizer.Encode("Hello world"));
        Assert.Equal([464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13], Gpt2Tokenizer.Encode("The quick brown fox jumps over the lazy dog."));
        Assert.Equal([50256], Gpt2Tokenizer.Encode("<|endoftext|>"));
        Assert.Equal("Hello world", Gpt2Tokenizer.Decode([15496, 995]));
    }

    [Fact]
    public void Text_is_tokenised_as_one_document_and_cut_at_the_context()
    {
        using var temp = new TempDir();
        var path = temp.File("t.txt");
        File.WriteAllText(path, "The quick brown fox jumps over the lazy dog.");
        var tokens = TokenSequences.ReadText(path, 50257, context: 4);
        Assert.Equal(10, tokens.TotalTokens);
        Assert.Equal([4, 4, 2], tokens.Sequences.Select(s => s.Length));
        Assert.Equal([464L, 2068, 7586, 21831], tokens.Sequences[0]);
        var small = Assert.Throws<MechanistInputException>(() => TokenSequences.ReadText(path, 1000, 4));
        Assert.Contains(path, small.Message);
        Assert.Contains("id 2068", small.Message);
        Assert.Contains("vocabulary of 1000", small.Message);
    }

    [Fact]
    public void Jsonl_lines_are_sequences_and_long_lines_are_cut()
    {
        using var temp = new TempDir();
        var path = temp.File("t.jsonl");
        File.WriteAllText(path, "[1, 2, 3]\n\n[4, 5, 6, 7, 8]\n");
        var tokens = TokenSequences.ReadJsonl(path, 10, context: 4);
        Assert.Equal([[1L, 2, 3], [4L, 5, 6, 7], [8L]], tokens.Sequences);
    }

    [Theory]
    [InlineData("[1, 2]\n[3, 10]\n", "line 2: token id 10 (item 1) is outside the model's vocabulary [0, 10)")]
    [InlineData("[1, -2]\n", "line 1: token id -2")]
    [InlineData("[1, 2.5]\n", "line 1: item 1 (2.5) is not an integer token id")]
    [InlineData("[1, \"a\"]\n", "item 1 (\"a\") is not an integer")]
    [InlineData("{\"ids\": [1]}\n", "line 1: expected a JSON list of token ids, got a JSON object")]
    [InlineData("[1, 2\n", "line 1: not valid JSON")]
    [InlineData("[]\n", "line 1: empty token list")]
    [InlineData("\n\n", "no token lists")]
    public void Bad_jsonl_names_the_file_and_line(string content, string expected)
    {
        using var temp = new TempDir();
        var path = temp.File("bad.jsonl");
        File.WriteAllText(path, content);
        var e = Assert.Throws<MechanistInputException>(() => TokenSequences.ReadJsonl(path, 10, 4));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Invalid_utf8_text_is_an_input_error()
    {
        using var temp = new TempDir();
        var path = temp.File("bad.txt");
        File.WriteAllBytes(path, [0x48, 0x69, 0xff, 0xfe]);
        var e = Assert.Throws<MechanistInputException>(() => TokenSequences.ReadText(path, 50257, 8));
        Assert.Contains("not valid UTF-8", e.Message);
    }
}
