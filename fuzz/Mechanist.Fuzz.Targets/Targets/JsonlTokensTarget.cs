using System.Text;
using Mechanist.Models.Text;

namespace Mechanist.Fuzzing.Targets;

/// <summary>A JSONL token file: one JSON list of token ids per line, cut into sequences of the context length.</summary>
public sealed class JsonlTokensTarget : FuzzTarget
{
    const int Vocab = 50257, Context = 8;

    public override string Name => "jsonl-tokens";

    public override string Summary => "JSONL token files (TokenSequences.ReadJsonl)";

    public override IReadOnlyList<string> Files => ["tokens.jsonl"];

    public override void Run(FuzzInput input)
    {
        var tokens = TokenSequences.ReadJsonl(input.Path, Vocab, Context);
        Check.That(tokens.Sequences.Count > 0, "no sequences");
        long total = 0;
        foreach (var sequence in tokens.Sequences)
        {
            Check.That(sequence.Length is >= 1 and <= Context, $"a sequence of {sequence.Length} tokens");
            Check.That(sequence.All(id => id is >= 0 and < Vocab), "a token id outside the vocabulary");
            total += sequence.Length;
        }
        Check.That(total == tokens.TotalTokens, "TotalTokens disagrees with the sequences");
        Check.That(total <= input.Size, $"{total} tokens from {input.Size} bytes");
    }

    public override IEnumerable<Seed> Seeds(SeedContext context)
    {
        yield return new("gpt2-tiny", [context.Fixture("tests/Fixtures/gpt2-tiny/tokens.jsonl")]);
        yield return new("release", [context.Fixture("samples/model-release/data/tokens.jsonl")]);
        yield return new("small", [Encoding.UTF8.GetBytes("[1, 2, 3]\n\n[50256, 0, 7, 7, 7, 7, 7, 7, 7, 7, 9]\r\n  [4]  \n")]);
    }

    public override IEnumerable<string> Dictionary =>
        ["[", "]", ",", "\n", "\r\n", "50256", "50257", "-1", "1.5", "1e3", "\"1\"", "null", "{}", "9223372036854775808", "\u00ef\u00bb\u00bf"];
}
