using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using SafeRoute.Tests.TestModels;
using SafeRoute.Training;

namespace SafeRoute.Tests.Training;

[TestFixture]
public sealed class ParaphraseAugmenterTests
{
    /// <summary>An in-process chat client: answers each call with the next scripted reply and records what it was sent.</summary>
    private sealed class ScriptedChatClient(Func<string, int, string> answer) : IChatClient
    {
        public List<string> Messages { get; } = [];

        public List<ChatOptions?> Options { get; } = [];

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ChatMessage[] list = [.. messages];
            Assert.That(list, Has.Length.EqualTo(1));
            Assert.That(list[0].Role, Is.EqualTo(ChatRole.User));
            Messages.Add(list[0].Text);
            Options.Add(options);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer(list[0].Text, Messages.Count))));
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            ChatResponse response = await GetResponseAsync(messages, options, cancellationToken);
            foreach (ChatResponseUpdate update in response.ToChatResponseUpdates())
            {
                yield return update;
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    private static async Task<List<SafetyExample>> Collect(IAsyncEnumerable<SafetyExample> source)
    {
        var list = new List<SafetyExample>();
        await foreach (SafetyExample e in source)
        {
            list.Add(e);
        }

        return list;
    }

    [Test]
    public async Task ParaphraseAsync_PairAndPrompt_UsesThePapersInstruction_ParsesAnswers_KeepsLabelAndSource()
    {
        var client = new ScriptedChatClient((message, call) => message.Contains("response:", StringComparison.Ordinal)
            ? $"Sure! Here it is.\nPrompt: new prompt {call}\nResponse: new reply {call}"
            : $"prompt: \"reworded {call}\"");
        var augmenter = new ParaphraseAugmenter(client, new ParaphraseAugmenterOptions { ParaphrasesPerExample = 2, ChatOptions = new ChatOptions { Temperature = 0.7f } });
        SafetyExample pair = new("p-1", "original prompt", "original reply", 1) { Source = "set-a" };
        SafetyExample prompt = new("q-1", "only a prompt", null, 0) { Source = "set-b", Category = "c" };

        List<SafetyExample> result = await Collect(augmenter.ParaphraseAsync([pair, prompt]));

        Assert.That(result.Select(r => r.Id), Is.EqualTo((string[])["p-1#para1", "p-1#para2", "q-1#para1", "q-1#para2"]));
        Assert.Multiple(() =>
        {
            Assert.That(client.Messages[0], Does.StartWith("Paraphrase the following prompt and response respectively while preserving their original semantics."));
            Assert.That(client.Messages[0], Does.EndWith("prompt: original prompt\nresponse: original reply"));
            Assert.That(client.Messages[2], Does.StartWith(ParaphraseAugmenter.PromptInstruction).And.EndWith("prompt: only a prompt"));
            Assert.That(client.Options.All(o => o?.Temperature == 0.7f), Is.True);
            Assert.That(result[0].Prompt, Is.EqualTo("new prompt 1"));
            Assert.That(result[0].Response, Is.EqualTo("new reply 1"));
            Assert.That(result[1].Prompt, Is.EqualTo("new prompt 2"));
            Assert.That(result[2].Prompt, Is.EqualTo("reworded 3"));
            Assert.That(result[2].Response, Is.Null);
            Assert.That(result.Select(r => r.Label), Is.EqualTo((int[])[1, 1, 0, 0]));
            Assert.That(result.Select(r => r.Source), Is.EqualTo((string[])["set-a", "set-a", "set-b", "set-b"]));
            Assert.That(result[3].Category, Is.EqualTo("c"));
            Assert.That(augmenter.Skipped, Is.Zero);
        });
    }

    [Test]
    public async Task ParaphraseAsync_UnparsableAnswer_RetriedThenSkippedAndCounted()
    {
        // Call 1: garbage, call 2 (the retry): good; then calls 3 and 4 both garbage -> the second paraphrase is skipped.
        var client = new ScriptedChatClient((_, call) => call == 2 ? "prompt: fine\nresponse: also fine" : "I cannot help with that.");
        var augmenter = new ParaphraseAugmenter(client, new ParaphraseAugmenterOptions { ParaphrasesPerExample = 2, RetriesPerParaphrase = 1 });

        List<SafetyExample> result = await Collect(augmenter.ParaphraseAsync([new SafetyExample("a", "p", "r", 0)]));

        Assert.That(client.Messages, Has.Count.EqualTo(4));
        Assert.That(result.Select(r => r.Id), Is.EqualTo((string[])["a#para1"]));
        Assert.That(augmenter.Skipped, Is.EqualTo(1));
    }

    [TestCase("prompt: a\nresponse: b", true, "a", "b")]
    [TestCase("PROMPT:  a  RESPONSE:  b ", true, "a", "b")]
    [TestCase("Prompt: old\nprompt: a\nresponse: b", true, "a", "b")]
    [TestCase("prompt: a", false, "a", null)]
    [TestCase("prompt: “quoted”", false, "quoted", null)]
    public void TryParse_Accepts(string answer, bool pair, string prompt, string? response)
    {
        Assert.That(ParaphraseAugmenter.TryParse(answer, pair, out string p, out string? r), Is.True);
        Assert.That((p, r), Is.EqualTo((prompt, response)));
    }

    [TestCase("", false)]
    [TestCase("no labels at all", false)]
    [TestCase("prompt:   ", false)]
    [TestCase("prompt: a", true)]
    [TestCase("prompt: a\nresponse:  ", true)]
    [TestCase("prompt: response: b", true)]
    public void TryParse_Rejects(string answer, bool pair) =>
        Assert.That(ParaphraseAugmenter.TryParse(answer, pair, out _, out _), Is.False);

    [Test]
    public async Task Paraphrases_AreRelabelledByBothGuards_ThroughTheFeatureCache()
    {
        // TestGuardCorpus: an unsafe borderline word is hard (the small guard misses it, the large guard catches it);
        // a trigger word is easy (both guards catch it). A paraphrase that swaps one for the other keeps the label
        // but must get its own hard label from running both guards, not the original's.
        string borderline = TinyGuardVocabulary.BorderlineWords.First(w => TinyGuardVocabulary.BorderlineIsUnsafe[w]);
        string trigger = TinyGuardVocabulary.TriggerWords[0];
        string directory = Path.Combine(Path.GetTempPath(), "saferoute-para-" + Guid.NewGuid().ToString("N"));
        try
        {
            using OnnxSafetyGuard small = OnnxSafetyGuard.Create(TestGuardFactory.Create(Path.Combine(directory, "small"), TestGuardOptions.Small).Directory);
            using OnnxSafetyGuard large = OnnxSafetyGuard.Create(TestGuardFactory.Create(Path.Combine(directory, "large"), TestGuardOptions.Large).Directory, tier: GuardTier.Large);
            SafetyExample original = new("row-1", $"tell me about {borderline}", null, 1);
            var client = new ScriptedChatClient((_, call) => call == 1 ? $"prompt: tell me about {trigger}" : $"prompt: is {borderline} allowed here");
            List<SafetyExample> paraphrases = await Collect(new ParaphraseAugmenter(client, new ParaphraseAugmenterOptions { ParaphrasesPerExample = 2 }).ParaphraseAsync([original]));

            using FeatureCache cache = FeatureCache.Open(Path.Combine(directory, "c.srfc"), small, large);
            cache.Add([original, .. paraphrases]);
            FeatureSet set = cache.Load([original, .. paraphrases]);

            Assert.That(set.Labels.ToArray(), Is.EqualTo((int[])[1, 1, 1]), "paraphrases keep the label");
            Assert.That(set.HardLabels.ToArray(), Is.EqualTo((bool[])[true, false, true]), "hard labels come from both guards on the new text");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void Constructor_ArgValidation()
    {
        var client = new ScriptedChatClient((_, _) => "");
        Assert.Throws<ArgumentNullException>(() => _ = new ParaphraseAugmenter(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ParaphraseAugmenter(client, new ParaphraseAugmenterOptions { ParaphrasesPerExample = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ParaphraseAugmenter(client, new ParaphraseAugmenterOptions { RetriesPerParaphrase = -1 }));
        Assert.Throws<ArgumentNullException>(() => new ParaphraseAugmenter(client).ParaphraseAsync(null!));
        Assert.Throws<ArgumentNullException>(() => ParaphraseAugmenter.BuildMessage(null!));
    }
}
