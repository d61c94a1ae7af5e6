using Microsoft.ML.Tokenizers;

namespace Mechanist.Models.Text;

/// <summary>
/// GPT-2's byte-level BPE (50,257 ids; <c>&lt;|endoftext|&gt;</c> = 50256) from Microsoft.ML.Tokenizers, with the
/// vocabulary shipped in its GPT-2 data package: no download at run time.
/// </summary>
public static class Gpt2Tokenizer
{
    public const int VocabSize = 50257;
    public const int EndOfText = 50256;

    static readonly Lazy<Tokenizer> Instance = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    public static Tokenizer Tokenizer => Instance.Value;

    public static IReadOnlyList<int> Encode(string text) => Tokenizer.EncodeToIds(text);

    public static string Decode(IEnumerable<int> ids) => Tokenizer.Decode(ids);
}
