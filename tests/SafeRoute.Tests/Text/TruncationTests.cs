using System.Diagnostics;
using System.Text;
using SafeRoute.Text;
using static SafeRoute.Tests.Text.TextTestSupport;

namespace SafeRoute.Tests.Text;

[TestFixture]
public sealed class TruncationTests
{
    /// <summary>What one encoding of a huge input may cost (it guards against quadratic behaviour, not for speed).</summary>
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(1.5);

    private static string Filler(int chars, string unit = "lorem ipsum dolor sit amet ")
    {
        var b = new StringBuilder(chars + unit.Length);
        while (b.Length < chars)
        {
            b.Append(unit);
        }

        return b.ToString(0, chars);
    }

    [TestCase("1b", false)]
    [TestCase("8b", true)]
    public void OneMegabytePrompt_KeepsHeadAndTail_Fast(string size, bool withResponse)
    {
        PromptEncoder encoder = LlamaGuard(size);
        string prompt = "Alpha beginning " + Filler(1 << 20) + " Omega ending";
        string? response = withResponse ? "Short answer." : null;
        encoder.EncodeRaw("warm up", response);

        (EncodedPrompt encoded, TimeSpan cpu) = Measure(() => encoder.EncodeRaw(prompt, response), $"1 MB prompt ({size})");

        int[] a = encoder.EncodeRaw("Alpha", response).TokenIds;
        int[] z = encoder.EncodeRaw("Zulu", response).TokenIds;
        int userStart = CommonPrefix(a, z);
        int userEndFromEnd = CommonSuffix(a, z);
        int[] head = encoder.EncodeRaw(prompt[..4000], response).TokenIds;
        int[] tail = encoder.EncodeRaw(prompt[^4000..], response).TokenIds;
        Assert.Multiple(() =>
        {
            Assert.That(encoded.Truncated, Is.True);
            Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(encoder.MaxSequenceLength));
            Assert.That(encoded.TokenIds, Has.Length.GreaterThan(encoder.MaxSequenceLength - 16), "the budget is used");
            Assert.That(encoded.TokenIds[..(userStart + 8)], Is.EqualTo(head[..(userStart + 8)]), "head of the user text");
            Assert.That(encoded.TokenIds[^(userEndFromEnd + 8)..], Is.EqualTo(tail[^(userEndFromEnd + 8)..]), "tail of the user text");
            Assert.That(encoded.TokenIds.Count(id => id >= 128000), Is.EqualTo(a.Count(id => id >= 128000)));
            Assert.That(cpu, Is.LessThan(Budget));
        });
    }

    [TestCase('z', 1 << 20)]
    [TestCase(' ', 1 << 20)]
    [TestCase('\u0001', 1 << 20)]
    [TestCase('z', 200_000)]
    [TestCase(' ', 200_000)]
    public void LongRunOfOneCharacter_Fast(char c, int length)
    {
        PromptEncoder encoder = LlamaGuard("8b");
        string prompt = "start " + new string(c, length) + " end";
        encoder.EncodeRaw("warm up", null);
        (EncodedPrompt encoded, TimeSpan cpu) = Measure(() => encoder.EncodeRaw(prompt, null), $"{length} x U+{(int)c:X4}");
        Assert.Multiple(() =>
        {
            Assert.That(encoded.Truncated, Is.EqualTo(c != ' ' || length > 300_000));
            Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(encoder.MaxSequenceLength));
            Assert.That(cpu, Is.LessThan(Budget));
        });
    }

    /// <summary>
    /// Runs <paramref name="encode"/> and returns the CPU time this process spent meanwhile. CPU time, unlike
    /// wall-clock time, does not grow when other processes (a CPU burner, a parallel build) take the cores.
    /// </summary>
    private static (EncodedPrompt Encoded, TimeSpan Cpu) Measure(Func<EncodedPrompt> encode, string label)
    {
        TimeSpan cpuBefore = Environment.CpuUsage.TotalTime;
        var watch = Stopwatch.StartNew();
        EncodedPrompt encoded = encode();
        watch.Stop();
        TimeSpan cpu = Environment.CpuUsage.TotalTime - cpuBefore;
        TestContext.Out.WriteLine($"{label}: {cpu.TotalMilliseconds:F1} ms CPU ({watch.Elapsed.TotalMilliseconds:F1} ms wall), {encoded.TokenIds.Length} tokens");
        return (encoded, cpu);
    }

    [Test]
    public void OneMegabyteOfEmoji_NeverSplitsSurrogatePairs()
    {
        PromptEncoder encoder = LlamaGuard("1b", maxSequenceLength: 512);
        string prompt = Filler(1 << 20, "\U0001F642\u4F60\U0001F44D\U0001F3FD ");
        EncodedPrompt encoded = encoder.EncodeRaw(prompt, null);
        int[] replacement = Plain().EncodeRaw("\uFFFD", null).TokenIds;
        Assert.Multiple(() =>
        {
            Assert.That(encoded.Truncated, Is.True);
            Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(512));
            Assert.That(ContainsSequence(encoded.TokenIds, replacement), Is.False, "a split surrogate pair would encode as U+FFFD");
        });
    }

    [Test]
    public void LongPrompt_ShortResponse_ResponseKeptWhole()
    {
        PromptEncoder encoder = LlamaGuard("1b", maxSequenceLength: 320);
        const string response = "Bread needs flour, water, salt and time.";
        string prompt = "First words " + Filler(20_000) + " last words";
        EncodedPrompt encoded = encoder.EncodeRaw(prompt, response);
        int[] x = encoder.EncodeRaw("x", response).TokenIds;
        int[] y = encoder.EncodeRaw("y", response).TokenIds;
        int keptTail = CommonSuffix(x, y);
        int[] marker = Plain().EncodeRaw(PromptEncoder.TruncationMarker, null).TokenIds;
        Assert.Multiple(() =>
        {
            Assert.That(encoded.Truncated, Is.True);
            Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(320));
            Assert.That(encoded.TokenIds[^keptTail..], Is.EqualTo(x[^keptTail..]), "response and template tail intact");
            Assert.That(ContainsSequence(encoded.TokenIds, marker), Is.True, "marker present");
        });
    }

    [Test]
    public void ShortPrompt_LongResponse_PromptKeptWhole()
    {
        PromptEncoder encoder = LlamaGuard("8b", maxSequenceLength: 330);
        const string prompt = "Tell me about bread.";
        string response = "Bread starts " + Filler(30_000) + " and then it is done.";
        EncodedPrompt encoded = encoder.EncodeRaw(prompt, response);
        int[] x = encoder.EncodeRaw(prompt, "x").TokenIds;
        int[] y = encoder.EncodeRaw(prompt, "y").TokenIds;
        int keptHead = CommonPrefix(x, y);
        int[] tail = encoder.EncodeRaw(prompt, response[^2000..]).TokenIds;
        Assert.Multiple(() =>
        {
            Assert.That(encoded.Truncated, Is.True);
            Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(330));
            Assert.That(encoded.TokenIds[..keptHead], Is.EqualTo(x[..keptHead]), "template head and whole prompt intact");
            Assert.That(encoded.TokenIds[^20..], Is.EqualTo(tail[^20..]), "response tail intact");
        });
    }

    [Test]
    public void BothLong_ShareTheBudget()
    {
        PromptEncoder encoder = LlamaGuard("1b", maxSequenceLength: 400);
        string prompt = "Prompt head " + Filler(50_000) + " prompt tail";
        string response = "Response head " + Filler(50_000, "panis et aqua ") + " response tail";
        EncodedPrompt encoded = encoder.EncodeRaw(prompt, response);
        int[] marker = Plain().EncodeRaw(PromptEncoder.TruncationMarker, null).TokenIds;
        int markers = 0;
        for (int i = 0; i + marker.Length <= encoded.TokenIds.Length; i++)
        {
            if (encoded.TokenIds.AsSpan(i, marker.Length).SequenceEqual(marker))
            {
                markers++;
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(encoded.Truncated, Is.True);
            Assert.That(encoded.TokenIds, Has.Length.InRange(380, 400));
            Assert.That(markers, Is.EqualTo(2));
        });
    }

    [Test]
    public void JustOverTheLimit_TruncatesOnlyUserText()
    {
        PromptEncoder full = LlamaGuard("8b");
        string prompt = Filler(3000);
        int fullLength = full.EncodeRaw(prompt, null).TokenIds.Length;
        PromptEncoder small = LlamaGuard("8b", maxSequenceLength: fullLength - 1);
        EncodedPrompt encoded = small.EncodeRaw(prompt, null);
        EncodedPrompt fits = LlamaGuard("8b", maxSequenceLength: fullLength).EncodeRaw(prompt, null);
        Assert.Multiple(() =>
        {
            Assert.That(encoded.Truncated, Is.True);
            Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(fullLength - 1));
            Assert.That(fits.Truncated, Is.False);
            Assert.That(fits.TokenIds, Has.Length.EqualTo(fullLength));
        });
    }

    [Test]
    public void TemplateLongerThanMaximum_FailsAtCreate()
    {
        string path = SharedFiles.RequireLlama3Tokenizer();
        var ex = Assert.Throws<SafeRouteException>(() => PromptEncoder.Create(Manifest(path, new SafeRoute.Models.TemplateManifest { Kind = "llama-guard-3-8b" }, maxSequenceLength: 100)));
        Assert.That(ex!.Message, Does.Contain("maxSequenceLength").And.Contain("saferoute.json"));
    }
}
