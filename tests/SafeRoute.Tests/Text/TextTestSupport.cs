using System.Collections.Concurrent;
using SafeRoute.Models;
using SafeRoute.Text;

namespace SafeRoute.Tests.Text;

/// <summary>Builds manifests and caches encoders (loading the Llama 3 file takes a moment) for the Text tests.</summary>
internal static class TextTestSupport
{
    private static readonly ConcurrentDictionary<string, Lazy<PromptEncoder>> Cache = new(StringComparer.Ordinal);

    public static GuardManifest Manifest(string tokenizerPath, TemplateManifest template, int maxSequenceLength = 4096, string preset = "llama3", string? pattern = null, Dictionary<string, int>? specialTokens = null)
    {
        string dir = Path.GetDirectoryName(tokenizerPath)!;
        return new GuardManifest
        {
            Directory = dir,
            FilePath = Path.Combine(dir, GuardManifest.FileName),
            Tokenizer = new TokenizerManifest { Kind = "tiktoken", Path = tokenizerPath, Preset = preset, Pattern = pattern, SpecialTokens = specialTokens },
            Template = template,
            MaxSequenceLength = maxSequenceLength,
        };
    }

    /// <summary>A cached Llama Guard 3 encoder ("1b" or "8b").</summary>
    public static PromptEncoder LlamaGuard(string size, bool referencePrefix = false, int maxSequenceLength = 4096)
    {
        string path = SharedFiles.RequireLlama3Tokenizer();
        string key = $"lg|{size}|{referencePrefix}|{maxSequenceLength}";
        return Cache.GetOrAdd(key, _ => new Lazy<PromptEncoder>(() => PromptEncoder.Create(Manifest(
            path,
            new TemplateManifest { Kind = "llama-guard-3-" + size, ReferenceCompatiblePrefix = referencePrefix },
            maxSequenceLength)))).Value;
    }

    /// <summary>A cached Llama 3 encoder whose template is just "{prompt}" (no stripping): plain text encoding.</summary>
    public static PromptEncoder Plain(string template = "{prompt}", bool strip = false)
    {
        string path = SharedFiles.RequireLlama3Tokenizer();
        string key = $"plain|{template}|{strip}";
        return Cache.GetOrAdd(key, _ => new Lazy<PromptEncoder>(() => PromptEncoder.Create(Manifest(
            path,
            new TemplateManifest { Kind = "custom", PromptOnly = template, StripUserText = strip })))).Value;
    }

    public static int CommonPrefix(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        int n = 0;
        while (n < a.Count && n < b.Count && a[n] == b[n])
        {
            n++;
        }

        return n;
    }

    public static int CommonSuffix(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        int n = 0;
        while (n < a.Count && n < b.Count && a[a.Count - 1 - n] == b[b.Count - 1 - n])
        {
            n++;
        }

        return n;
    }

    public static bool ContainsSequence(IReadOnlyList<int> haystack, IReadOnlyList<int> needle)
    {
        for (int i = 0; i + needle.Count <= haystack.Count; i++)
        {
            int j = 0;
            while (j < needle.Count && haystack[i + j] == needle[j])
            {
                j++;
            }

            if (j == needle.Count)
            {
                return true;
            }
        }

        return false;
    }
}
