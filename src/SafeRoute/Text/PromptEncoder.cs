using SafeRoute.Models;

namespace SafeRoute.Text;

/// <summary>The token ids of one rendered guard prompt.</summary>
/// <param name="TokenIds">Template ids with the user text spliced in; never a special id from user text.</param>
/// <param name="Truncated">Whether user text was shortened to fit the encoder's maximum sequence length.</param>
internal readonly record struct EncodedPrompt(int[] TokenIds, bool Truncated);

/// <summary>
/// Renders a <see cref="SafetyRequest"/> through a guard's template and tokenizer. CONTRACT (implemented in Text/):
/// thread-safe; user text is encoded with a tokenizer that knows no special tokens; special ids come only from the
/// template; over-long input keeps the head and tail of the user text and never cuts the template.
/// </summary>
internal sealed partial class PromptEncoder
{
}
