using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace SafeRoute.Training;

/// <summary>
/// The SafeRoute paper's data augmentation: each training example is paraphrased several times by an instruction-tuned
/// LLM behind any Microsoft.Extensions.AI <see cref="IChatClient"/>, with the paper's instruction ("Paraphrase the
/// following prompt and response respectively while preserving their original semantics") and its answer format
/// (<c>prompt: …</c> then <c>response: …</c>).
/// </summary>
/// <remarks>
/// <para>
/// A paraphrase keeps its example's label and source; its id is <c>{id}#para{k}</c> (k = 1, 2, …). Its hard label is
/// not copied: relabel the paraphrases by running both guards on them, which is what
/// <see cref="FeatureCache.Add"/> does (<c>cache.Add(paraphrases)</c>, then <c>cache.Load(original.Concat(paraphrases))</c>).
/// </para>
/// <para>
/// Answers that cannot be parsed (no <c>prompt:</c>, an empty part, or no <c>response:</c> for a pair) are asked for
/// again up to <see cref="ParaphraseAugmenterOptions.RetriesPerParaphrase"/> times and then skipped;
/// <see cref="Skipped"/> counts them. Nothing here logs text. Not safe for concurrent use of one instance.
/// </para>
/// </remarks>
public sealed class ParaphraseAugmenter
{
    /// <summary>The paper's instruction for a prompt and response pair.</summary>
    public const string PairInstruction = "Paraphrase the following prompt and response respectively while preserving their original semantics.";

    /// <summary>The instruction for a prompt-only example (the paper's, for one text).</summary>
    public const string PromptInstruction = "Paraphrase the following prompt while preserving its original semantics.";

    private readonly IChatClient _client;
    private readonly ParaphraseAugmenterOptions _options;

    /// <summary>Initializes a new instance of the <see cref="ParaphraseAugmenter"/> class.</summary>
    /// <param name="chatClient">The LLM that paraphrases. Not disposed by the augmenter.</param>
    /// <param name="options">The settings; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="chatClient"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public ParaphraseAugmenter(IChatClient chatClient, ParaphraseAugmenterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(chatClient);
        options ??= new ParaphraseAugmenterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ParaphrasesPerExample, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.RetriesPerParaphrase, nameof(options));
        _client = chatClient;
        _options = options;
    }

    /// <summary>Gets the number of paraphrases skipped so far because no answer could be parsed.</summary>
    public int Skipped { get; private set; }

    /// <summary>Builds the user message sent for one example.</summary>
    /// <param name="example">The example.</param>
    /// <returns>The instruction, a blank line, then <c>prompt: …</c> (and <c>response: …</c> for a pair).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="example"/> is null.</exception>
    public static string BuildMessage(SafetyExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        return example.Response is null
            ? $"{PromptInstruction}\n\nprompt: {example.Prompt}"
            : $"{PairInstruction}\n\nprompt: {example.Prompt}\nresponse: {example.Response}";
    }

    /// <summary>
    /// Parses an answer in the paper's format: the text after the last <c>prompt:</c> up to <c>response:</c> is the
    /// prompt and the rest the response (case-insensitive labels; surrounding white space and quotes removed).
    /// </summary>
    /// <param name="answer">The model's answer.</param>
    /// <param name="expectResponse">Whether a response is required (the example is a pair).</param>
    /// <param name="prompt">The paraphrased prompt.</param>
    /// <param name="response">The paraphrased response, or <see langword="null"/> for a prompt-only example.</param>
    /// <returns><see langword="true"/> when the answer has every required, non-empty part.</returns>
    public static bool TryParse(string? answer, bool expectResponse, out string prompt, out string? response)
    {
        prompt = "";
        response = null;
        if (string.IsNullOrWhiteSpace(answer))
        {
            return false;
        }

        int p = answer.LastIndexOf("prompt:", StringComparison.OrdinalIgnoreCase);
        if (p < 0)
        {
            return false;
        }

        string rest = answer[(p + "prompt:".Length)..];
        int r = rest.IndexOf("response:", StringComparison.OrdinalIgnoreCase);
        string promptPart = r < 0 ? rest : rest[..r];
        prompt = Clean(promptPart);
        if (prompt.Length == 0)
        {
            return false;
        }

        if (!expectResponse)
        {
            return true;
        }

        if (r < 0)
        {
            return false;
        }

        response = Clean(rest[(r + "response:".Length)..]);
        return response.Length > 0;

        static string Clean(string s) => s.Trim().Trim('"', '\u201C', '\u201D').Trim();
    }

    /// <summary>Paraphrases every example <see cref="ParaphraseAugmenterOptions.ParaphrasesPerExample"/> times.</summary>
    /// <param name="examples">The training examples.</param>
    /// <param name="cancellationToken">Stops between (and inside) chat calls.</param>
    /// <returns>The paraphrases, example by example, read lazily.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="examples"/> is null.</exception>
    public IAsyncEnumerable<SafetyExample> ParaphraseAsync(IEnumerable<SafetyExample> examples, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(examples);
        return Core(examples, cancellationToken);
    }

    private async IAsyncEnumerable<SafetyExample> Core(IEnumerable<SafetyExample> examples, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (SafetyExample example in examples)
        {
            string message = BuildMessage(example);
            for (int k = 1; k <= _options.ParaphrasesPerExample; k++)
            {
                SafetyExample? paraphrase = null;
                for (int attempt = 0; attempt <= _options.RetriesPerParaphrase && paraphrase is null; attempt++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    ChatResponse answer = await _client.GetResponseAsync([new ChatMessage(ChatRole.User, message)], _options.ChatOptions?.Clone(), cancellationToken).ConfigureAwait(false);
                    if (TryParse(answer.Text, example.Response is not null, out string prompt, out string? response))
                    {
                        paraphrase = new SafetyExample(string.Create(CultureInfo.InvariantCulture, $"{example.Id}#para{k}"), prompt, response, example.Label)
                        {
                            Source = example.Source,
                            Category = example.Category,
                        };
                    }
                }

                if (paraphrase is null)
                {
                    Skipped++;
                }
                else
                {
                    yield return paraphrase;
                }
            }
        }
    }
}
