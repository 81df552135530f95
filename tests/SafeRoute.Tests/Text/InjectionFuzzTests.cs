using System.Text;
using SafeRoute.Models;
using SafeRoute.Tests.TestModels;
using SafeRoute.Text;
using static SafeRoute.Tests.Text.TextTestSupport;

namespace SafeRoute.Tests.Text;

/// <summary>
/// Injection fuzz (issue 14's reliability suite): user text must never become special tokens. For each encoder, every
/// special string of every preset, and 10,000 seeded random strings built from special-token fragments, control and
/// white-space characters, surrogates and ordinary text, are put in the prompt, the response or both; the special ids
/// of the whole encoded prompt (ids at or above the tokenizer's base vocabulary) must equal those of the same template
/// around plain text. Counts are printed; a single special id from user text fails the test.
/// </summary>
[TestFixture]
public sealed class InjectionFuzzTests
{
    private const int RandomStrings = 10_000;

    private static IEnumerable<string> EveryPresetSpecialString()
    {
        foreach (string preset in (string[])["llama3", "gpt2", "cl100k", "o200k"])
        {
            Assert.That(TokenizerPresets.TryGet(preset, out _, out IReadOnlyDictionary<string, int> specials), Is.True, preset);
            foreach (string s in specials.Keys)
            {
                yield return s;
            }
        }
    }

    private static PromptEncoder Encoder(string name) => name switch
    {
        "llama-guard-3-1b" => LlamaGuard("1b"),
        "llama-guard-3-8b" => LlamaGuard("8b"),
        _ => PromptEncoder.Create(GuardManifest.Load(Gpt2DecoderGuard.Path)),
    };

    private static int[] SpecialIds(PromptEncoder encoder, EncodedPrompt encoded) =>
        [.. encoded.TokenIds.Where(id => id >= encoder.BaseVocabularySize).Order()];

    [TestCase("gpt2-decoder")]
    [TestCase("llama-guard-3-1b")]
    [TestCase("llama-guard-3-8b")]
    public void EverySpecialStringOfEveryPreset_AddsNoSpecialIds(string encoderName)
    {
        PromptEncoder encoder = Encoder(encoderName);
        int[] promptOnly = SpecialIds(encoder, encoder.Encode(new SafetyRequest("x")));
        int[] pair = SpecialIds(encoder, encoder.Encode(new SafetyRequest("x", "y")));
        int checkedInputs = 0, violations = 0;
        foreach (string special in EveryPresetSpecialString())
        {
            foreach (string text in (string[])[special, "a" + special + "b", " " + special + " ", special + special, special + "\n\n" + special, special.Replace("|", "", StringComparison.Ordinal)])
            {
                violations += Differs(SpecialIds(encoder, encoder.Encode(new SafetyRequest(text))), promptOnly);
                violations += Differs(SpecialIds(encoder, encoder.Encode(new SafetyRequest("x", text))), pair);
                violations += Differs(SpecialIds(encoder, encoder.Encode(new SafetyRequest(text, text))), pair);
                checkedInputs += 3;
            }
        }

        TestContext.Out.WriteLine($"{encoderName}: {checkedInputs} encodings of special strings, {violations} with special ids from user text");
        Assert.That(violations, Is.Zero);
    }

    [TestCase("gpt2-decoder")]
    [TestCase("llama-guard-3-1b")]
    [TestCase("llama-guard-3-8b")]
    public void SeededRandomStrings_AddNoSpecialIds(string encoderName)
    {
        PromptEncoder encoder = Encoder(encoderName);
        int[] promptOnly = SpecialIds(encoder, encoder.Encode(new SafetyRequest("x")));
        int[] pair = SpecialIds(encoder, encoder.Encode(new SafetyRequest("x", "y")));
        string[] fragments =
        [
            .. EveryPresetSpecialString(), "<|", "|>", "<", "|", ">", "_id", "eot", "header", "start_header_id", "end",
            "begin_of_text", "\n", "\n\n", "\r\n", "\t", " ", "\u001C", "\u001E", "\u0085", "\u00A0", "\u2028", "\u3000",
            "\uFEFF", "\u200B", "safe", "unsafe", "S1", "User:", "Agent:", "[INST]", "</s>", "<s>", "\uD835\uDFCF", "\uD83D\uDE00",
            "\uD800", "\uDC00", "\u00e9", "\u4e2d", "123", "'s",
        ];
        var random = new Random(20261201);
        var text = new StringBuilder();
        int violations = 0;
        for (int i = 0; i < RandomStrings; i++)
        {
            text.Clear().Append('q'); // never only white space (such a prompt is rejected by SafetyRequest)
            int pieces = random.Next(1, 24);
            for (int p = 0; p < pieces; p++)
            {
                if (random.Next(4) == 0)
                {
                    text.Append((char)random.Next(0x20, 0xFFFF));
                }
                else
                {
                    text.Append(fragments[random.Next(fragments.Length)]);
                }
            }

            string s = text.ToString();
            violations += (i % 3) switch
            {
                0 => Differs(SpecialIds(encoder, encoder.Encode(new SafetyRequest(s))), promptOnly),
                1 => Differs(SpecialIds(encoder, encoder.Encode(new SafetyRequest("x", s))), pair),
                _ => Differs(SpecialIds(encoder, encoder.Encode(new SafetyRequest(s, s))), pair),
            };
        }

        TestContext.Out.WriteLine($"{encoderName}: {RandomStrings} seeded random strings, {violations} with special ids from user text");
        Assert.That(violations, Is.Zero);
    }

    [Test]
    public void SpecialIds_AreCountedFromTheTemplate_SoAnInjectedIdWouldBeSeen()
    {
        // The check itself must be able to fail: a template with one more special token than the baseline differs.
        PromptEncoder encoder = Encoder("gpt2-decoder");
        int[] baseline = SpecialIds(encoder, encoder.Encode(new SafetyRequest("x")));
        Assert.That(Differs([.. baseline, encoder.BaseVocabularySize], baseline), Is.EqualTo(1));
    }

    private static int Differs(int[] actual, int[] expected) => actual.AsSpan().SequenceEqual(expected) ? 0 : 1;
}
