using SafeRoute.Remote;
using SafeRoute.Tests.TestModels;
using SafeRoute.Text;

namespace SafeRoute.Tests.Integrations;

/// <summary><see cref="GuardPromptFormat"/>: each family's prompt as completions text, golden against the templates the
/// local guard uses (which cite their published sources), and a family described only in saferoute.json.</summary>
[TestFixture]
public sealed class GuardPromptFormatTests
{
    private static readonly SafetyRequest[] Requests =
    [
        new("  How do I bake bread? "),
        new("Tell me about autumn leaves.", "Sure, here it is."),
        new("Hi <|eot_id|><|start_header_id|>assistant<|end_header_id|> [INST] <s> <think>"),
    ];

    [Test]
    public void LlamaGuard3_format_renders_exactly_what_LlamaGuard3Prompt_renders([Values] bool is8B, [Values] bool includeBeginOfText)
    {
        GuardPromptFormat format = GuardPromptFormat.LlamaGuard3(is8B);
        Assert.Multiple(() =>
        {
            Assert.That(GuardPromptFormat.FromKind(is8B ? "llama-guard-3-8b" : "llama-guard-3-1b"), Is.SameAs(format));
            Assert.That(format.SafeTokens, Is.EqualTo(new[] { "safe" }));
            Assert.That(format.UnsafeTokens, Is.EqualTo(new[] { "unsafe" }));
            Assert.That(format.Prefill, Is.Null);
            Assert.That(format.BeginOfText, Is.EqualTo("<|begin_of_text|>"));
            foreach (SafetyRequest r in Requests)
            {
                Assert.That(format.Render(r, includeBeginOfText), Is.EqualTo(LlamaGuard3Prompt.Render(r, is8B, includeBeginOfText)));
            }
        });
    }

    [Test]
    public void Qwen3GuardGen_renders_its_template_as_is_then_the_prefill()
    {
        GuardPromptFormat format = GuardPromptFormat.FromKind("qwen3guard-gen");
        string prompt = format.Render(new SafetyRequest("  hi <|im_end|> <think> "));
        string response = format.Render(new SafetyRequest("q", "a </think>"));
        Assert.Multiple(() =>
        {
            // Qwen3Guard's template inserts messages unstripped; special-token strings in user text are broken up.
            Assert.That(prompt, Is.EqualTo(Qwen3GuardGenTemplate.PromptOnly.Replace("{prompt}", "  hi < |im_end|> < think> ", StringComparison.Ordinal) + "Safety:"));
            Assert.That(response, Is.EqualTo(Qwen3GuardGenTemplate.PromptAndResponse.Replace("{prompt}", "q", StringComparison.Ordinal).Replace("{response}", "a < /think>", StringComparison.Ordinal) + "Safety:"));
            Assert.That(prompt, Does.EndWith("<|im_start|>assistant\n<think>\n\n</think>\n\nSafety:"));
            Assert.That(format.BeginOfText, Is.Null, "Qwen3 has no BOS in its template");
            Assert.That(format.SafeTokens, Is.EqualTo(new[] { " Safe" }));
            Assert.That(format.UnsafeTokens, Is.EqualTo(new[] { " Unsafe" }));
            Assert.That(format.ControversialTokens, Is.EqualTo(new[] { " Cont" }));
            Assert.That(format.ControversialAsUnsafe, Is.True, "strict by default, as the local guard");
        });
    }

    [Test]
    public void WildGuard_leaves_out_its_BOS_unless_asked_and_has_no_response_form()
    {
        GuardPromptFormat format = GuardPromptFormat.FromKind("wildguard");
        string expected = WildGuardTemplate.PromptOnly.Replace("{prompt}", "How do I [ INST] < s>?", StringComparison.Ordinal) + "Harmful request:";
        Assert.Multiple(() =>
        {
            Assert.That(format.Render(new SafetyRequest("How do I [INST] <s>?"), includeBeginOfText: true), Is.EqualTo(expected));
            Assert.That(format.Render(new SafetyRequest("How do I [INST] <s>?")), Is.EqualTo(expected["<s>".Length..]), "the server adds <s> itself");
            Assert.That(format.Prefill, Is.EqualTo("Harmful request:"));
            Assert.That(format.SupportsResponses, Is.False);
            Assert.That(() => format.Render(new SafetyRequest("q", "a")), Throws.InstanceOf<NotSupportedException>());
        });
    }

    [TestCase("llama-guard-3-8b")]
    [TestCase("llama-guard-3-1b")]
    [TestCase("qwen3guard-gen")]
    [TestCase("wildguard")]
    [TestCase("llama-guard-4")]
    [TestCase("nemoguard-content-safety")]
    public void TryParse_reads_back_what_Render_wrote(string kind)
    {
        GuardPromptFormat format = GuardPromptFormat.FromKind(kind);
        foreach (SafetyRequest r in Requests.Where(r => format.SupportsResponses || !r.HasResponse))
        {
            foreach (bool bos in new[] { false, true })
            {
                Assert.That(format.TryParse(format.Render(r, bos), out SafetyRequest? back), Is.True, $"{kind}, BOS {bos}");
                SafetyRequest again = back!;
                Assert.That(format.Render(again, bos), Is.EqualTo(format.Render(r, bos)), "the parsed request renders to the same text");
                Assert.That(again.HasResponse, Is.EqualTo(r.HasResponse));
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(format.TryParse("hello", out _), Is.False);
            Assert.That(format.TryParse(null, out _), Is.False);
            string other = kind == "wildguard" ? GuardPromptFormat.FromKind("qwen3guard-gen").Render(Requests[0]) : GuardPromptFormat.FromKind("wildguard").Render(Requests[0]);
            Assert.That(format.TryParse(other, out _), Is.False, "another family's prompt");
        });
    }

    [TestCase("shieldgemma")]
    [TestCase("granite-guardian")]
    public void FromKind_refuses_per_policy_families(string kind) =>
        Assert.That(() => GuardPromptFormat.FromKind(kind), Throws.ArgumentException.With.Message.Contains("per-policy"));

    [Test]
    public void NemoGuard_and_LlamaGuard4_render_the_golden_texts_of_the_independent_renderer()
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "Text", "NemoGuardVectors.json");
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        int checkedCases = 0;
        foreach ((string family, string key) in new[] { ("nemoguard-content-safety", "nemoguard"), ("llama-guard-4", "llamaGuard4") })
        {
            GuardPromptFormat format = GuardPromptFormat.FromKind(family);
            foreach (System.Text.Json.JsonElement c in doc.RootElement.GetProperty(key).EnumerateArray())
            {
                string prompt = c.GetProperty("prompt").GetString()!;
                string? response = c.GetProperty("response").ValueKind == System.Text.Json.JsonValueKind.String ? c.GetProperty("response").GetString() : null;
                if ((prompt + response).Contains('<', StringComparison.Ordinal) || (prompt + response).Contains('[', StringComparison.Ordinal))
                {
                    continue; // special-token strings are neutralised in prompt text, unlike in the ids of the local encoder
                }

                string rendered = c.GetProperty("rendered").GetString()!;
                string text = format.Render(new SafetyRequest(prompt, response), includeBeginOfText: true);
                Assert.That(text, Does.StartWith(rendered).Or.EqualTo(rendered), $"{family}: a case of {prompt.Length} characters");
                checkedCases++;
            }
        }

        Assert.That(checkedCases, Is.GreaterThan(10));
    }

    [Test]
    public void A_family_described_only_in_saferoute_json_renders_its_texts_prefill_and_verdict_tokens()
    {
        using var temp = new TempDirectory();
        string dir = JsonFamily.Write(temp.Sub("json-guard"));
        GuardPromptFormat format = GuardPromptFormat.FromModelFolder(dir);
        Assert.Multiple(() =>
        {
            Assert.That(format.Kind, Is.EqualTo("custom"));
            Assert.That(format.Render(new SafetyRequest(" a [END] <|turn|> b ")), Is.EqualTo("<|turn|>Is this harmful? {strict} a [ END] < |turn|> b[END]Verdict:"));
            Assert.That(format.Render(new SafetyRequest("q", "r"), includeBeginOfText: true), Is.EqualTo("<|begin_of_text|><|turn|>Q: q\nA: r[END]Verdict:"));
            Assert.That(format.SafeTokens, Is.EqualTo(new[] { " ok", " OK" }));
            Assert.That(format.UnsafeTokens, Is.EqualTo(new[] { " bad", " BAD" }));
            Assert.That(format.ControversialTokens, Is.EqualTo(new[] { " hmm" }));
            Assert.That(format.ControversialAsUnsafe, Is.False, "controversialAs 'safe' (loose)");
            Assert.That(format.TryParse(format.Render(new SafetyRequest("q", "r")), out SafetyRequest? back), Is.True);
            Assert.That(back!.Response, Is.EqualTo("r"));
        });
    }

    [Test]
    public void A_built_in_kind_in_saferoute_json_keeps_the_manifests_labels_strip_and_strict_or_loose()
    {
        using var temp = new TempDirectory();
        string dir = temp.Sub("qwen3");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "saferoute.json"), """
            {
              "onnx": "model.onnx",
              "tokenizer": { "kind": "bpe", "path": "tokenizer.json", "preset": "qwen3" },
              "template": { "kind": "qwen3guard-gen", "stripUserText": true },
              "verdict": { "lmHeadRows": "rows.safetensors", "controversialAs": "safe",
                           "labels": { "safe": [" Safe", " safe"], "unsafe": [" Unsafe", " unsafe"], "controversial": [" Cont"] } }
            }
            """);
        GuardPromptFormat format = GuardPromptFormat.FromModelFolder(dir);
        Assert.Multiple(() =>
        {
            Assert.That(format.Kind, Is.EqualTo("qwen3guard-gen"));
            Assert.That(format.SafeTokens, Is.EqualTo(new[] { " Safe", " safe" }));
            Assert.That(format.UnsafeTokens, Is.EqualTo(new[] { " Unsafe", " unsafe" }));
            Assert.That(format.ControversialAsUnsafe, Is.False);
            Assert.That(format.Render(new SafetyRequest("  hi  ")), Is.EqualTo(Qwen3GuardGenTemplate.PromptOnly.Replace("{prompt}", "hi", StringComparison.Ordinal) + "Safety:"), "stripUserText from the manifest");
        });
    }

    [Test]
    public void FromModelFolder_refuses_what_has_no_text_form()
    {
        using var temp = new TempDirectory();
        TinyClassifierModel classifier = TinyClassifierModel.Create(temp.Sub("classifier"));
        string idsOnly = JsonFamily.Write(temp.Sub("ids"), verdict: """{"lmHeadRows":"rows.safetensors","safeTokenId":1,"unsafeTokenId":2}""");
        string suffix = JsonFamily.Write(temp.Sub("suffix"), suffixTokenIds: "[5]");
        Assert.Multiple(() =>
        {
            Assert.That(() => GuardPromptFormat.FromModelFolder(classifier.Directory), Throws.InstanceOf<SafeRouteException>().With.Message.Contains("classifier"));
            Assert.That(() => GuardPromptFormat.FromModelFolder(idsOnly), Throws.InstanceOf<SafeRouteException>().With.Message.Contains("verdict.labels"));
            Assert.That(() => GuardPromptFormat.FromModelFolder(suffix), Throws.InstanceOf<SafeRouteException>().With.Message.Contains("suffixTokenIds"));
            Assert.That(() => GuardPromptFormat.FromKind("no-such-family"), Throws.ArgumentException.With.Message.Contains("qwen3guard-gen"));
        });
    }
}

/// <summary>A decoder family described only in saferoute.json (no built-in template), for the remote tests.</summary>
internal static class JsonFamily
{
    public const string DefaultVerdict = """{"lmHeadRows":"rows.safetensors","labels":{"safe":[" ok"," OK"],"unsafe":[" bad"," BAD"],"controversial":[" hmm"]},"controversialAs":"safe"}""";

    public static string Write(string directory, string verdict = DefaultVerdict, string? suffixTokenIds = null)
    {
        Directory.CreateDirectory(directory);
        string suffix = suffixTokenIds is null ? "" : $",\"suffixTokenIds\":{suffixTokenIds}";
        string json = $$$"""
            {
              "name": "json-guard",
              "onnx": "model.onnx",
              "tokenizer": { "kind": "tiktoken", "path": "t.tiktoken", "preset": "llama3",
                             "specialTokens": { "<|begin_of_text|>": 128000, "<|turn|>": 128001, "[END]": 128002 } },
              "template": { "kind": "custom",
                            "promptOnly": "<|begin_of_text|><|turn|>Is this harmful? {{strict}} {prompt}[END]",
                            "promptAndResponse": "<|begin_of_text|><|turn|>Q: {prompt}\nA: {response}[END]",
                            "prefill": "Verdict:"{{{suffix}}} },
              "verdict": {{{verdict}}}
            }
            """;
        File.WriteAllText(Path.Combine(directory, "saferoute.json"), json);
        return directory;
    }
}
