// TEMPORARY: removed when the Text branch is merged.
using SafeRoute.Models;

namespace SafeRoute.Text;

internal sealed partial class PromptEncoder
{
    public int MaxSequenceLength { get; }

    public int BaseVocabularySize { get; }

    public static PromptEncoder Create(GuardManifest manifest) => throw new NotSupportedException(manifest.FilePath);

    public EncodedPrompt Encode(SafetyRequest request) => throw new NotSupportedException(request.ToString());

    public EncodedPrompt EncodeRaw(string prompt, string? response) => throw new NotSupportedException(prompt + response);
}
