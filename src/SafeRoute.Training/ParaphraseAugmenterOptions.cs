using Microsoft.Extensions.AI;

namespace SafeRoute.Training;

/// <summary>Settings of <see cref="ParaphraseAugmenter"/>.</summary>
public sealed class ParaphraseAugmenterOptions
{
    /// <summary>Gets or sets how many paraphrases to ask for per example (one chat call each).</summary>
    /// <value>The default is 7, as in the SafeRoute paper.</value>
    public int ParaphrasesPerExample { get; set; } = 7;

    /// <summary>Gets or sets the chat options sent with every request (model id, temperature, …).</summary>
    /// <value>The default is <see langword="null"/>: the client's defaults.</value>
    public ChatOptions? ChatOptions { get; set; }

    /// <summary>Gets or sets how many times a paraphrase is asked for again when the answer cannot be parsed.</summary>
    /// <value>The default is 1 (one retry); unparsable answers after that are skipped and counted.</value>
    public int RetriesPerParaphrase { get; set; } = 1;
}
