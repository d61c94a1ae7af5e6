namespace Mechanist.Models;

/// <summary>
/// A model that knows the text of its token ids (its tokenizer's strings). Interpreters and reports show token text
/// where a model has it, and ids where it does not.
/// </summary>
public interface ITokenizedModel
{
    /// <summary>The text of each token id as its tokenizer decodes it alone; null when this model has no known tokenizer.</summary>
    Func<long, string>? TokenText { get; }
}
