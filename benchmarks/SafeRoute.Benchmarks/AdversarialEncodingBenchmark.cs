using System.Diagnostics;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using SafeRoute.Models;
using SafeRoute.Text;

namespace SafeRoute.Benchmarks;

/// <summary>
/// Issue 14, defect 1: encoding cost of 10 MB adversarial inputs at 32k- and 128k-token contexts, for each tokenizer
/// preset. BenchmarkDotNet over the worst classes found by <see cref="AdversarialEncodingScan"/>.
/// </summary>
public class AdversarialEncodingBenchmark
{
    private PromptEncoder _encoder = null!;
    private string _text = "";

    /// <summary>Gets or sets the preset: llama3 (Llama Guard 3 8B template) or gpt2 (built-in GPT-2, default small template).</summary>
    [Params("llama3", "gpt2")]
    public string Preset { get; set; } = "llama3";

    /// <summary>Gets or sets the context (maxSequenceLength).</summary>
    [Params(32768, 131072)]
    public int Context { get; set; }

    /// <summary>Gets or sets the input class (see <see cref="AdversarialInputs.Representative"/>).</summary>
    [Params("issue /x8+U+001E", "U+2026", "random")]
    public string Input { get; set; } = "/";

    [GlobalSetup]
    public void Setup()
    {
        _encoder = AdversarialInputs.Encoder(Preset, Context);
        _text = AdversarialInputs.Build(AdversarialInputs.Representative[Input], AdversarialInputs.TenMegabytes);
    }

    /// <summary>10 MB as the prompt.</summary>
    [Benchmark]
    public int Prompt() => _encoder.EncodeRaw(_text, null).TokenIds.Length;

    /// <summary>10 MB as prompt and 10 MB as response.</summary>
    [Benchmark]
    public int Both() => _encoder.EncodeRaw(_text, _text).TokenIds.Length;
}

/// <summary>The adversarial input classes and the encoders of the benchmark.</summary>
internal static class AdversarialInputs
{
    /// <summary>Ten megabytes (10 × 2^20 UTF-16 characters).</summary>
    public const int TenMegabytes = 10 << 20;

    /// <summary>Gets the classes the BenchmarkDotNet run uses.</summary>
    public static IReadOnlyDictionary<string, string> Representative { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["issue /x8+U+001E"] = "////////\u001E",
        ["digits"] = "0123456789",
        ["+"] = "+",
        ["U+2026"] = "\u2026",
        ["random"] = RandomSymbolsUnit,
    };

    /// <summary>Every class of the scan: one character of each Unicode general category, control characters, digits,
    /// symbols, surrogates (paired and lone), and alternations of two classes; each repeated to the input length.</summary>
    public static IReadOnlyList<(string Name, string Unit)> All()
    {
        var list = new List<(string, string)>();
        foreach (UnicodeCategory category in Enum.GetValues<UnicodeCategory>())
        {
            if (category == UnicodeCategory.Surrogate)
            {
                continue;
            }

            for (int c = 0x21; c < 0x10000; c++)
            {
                if (c is >= 0xD800 and <= 0xDFFF)
                {
                    continue;
                }

                if (CharUnicodeInfo.GetUnicodeCategory((char)c) == category)
                {
                    list.Add(($"{category} U+{c:X4}", ((char)c).ToString()));
                    break;
                }
            }
        }

        string[] singles =
        [
            "\u0000", "\u001C", "\u001E", "\u001C\u001D\u001E\u001F", "\u007F", "\u0085", "\u00A0", "\u3000", "\u200B", "\uFEFF",
            "7", "\u0663", "\u00B2", "\u2167", "0123456789", "/", "-", "=", "$", "^", "`", "~", "\u2026",
            "\U0001F600", "\U0001D400", "\U00020000", "\U0001F44D\U0001F3FD", "\uD800", "\uDC00", "\uDC00\uD800",
            " ", "\n", "\r\n", "\t", "x ", "a", "Z", "\u00E9", "e\u0301", "\u4E2D", "\uAC00", "\u0915\u094D",
            "////////\u001E",
        ];
        foreach (string unit in singles)
        {
            list.Add((Describe(unit), unit));
        }

        // Non-repeating: seeded runs of 1–39 copies of long-token symbols, one pattern match whose 64-character pieces all
        // differ (no piece cache helps).
        list.Add((RandomSymbolsName, RandomSymbolsUnit));

        string[] classes = ["a", "7", " ", "/", "\u001E", "\u4E2D", "\U0001F600", "\u0301", "\n", "\u00A0", "'", "\uD800"];
        for (int i = 0; i < classes.Length; i++)
        {
            for (int j = i + 1; j < classes.Length; j++)
            {
                list.Add(($"{Describe(classes[i])} | {Describe(classes[j])}", classes[i] + classes[j]));
            }
        }

        return list;
    }

    /// <summary>The name of the non-repeating class.</summary>
    public const string RandomSymbolsName = "random runs of \u2026+~/-= (seeded)";

    /// <summary>The unit that stands for the non-repeating class in <see cref="Build"/>.</summary>
    private const string RandomSymbolsUnit = "\uE000random";

    /// <summary>Repeats <paramref name="unit"/> to exactly <paramref name="chars"/> UTF-16 characters (the non-repeating
    /// class: seeded random runs).</summary>
    public static string Build(string unit, int chars)
    {
        if (unit == RandomSymbolsUnit)
        {
            var random = new Random(14);
            string symbols = "\u2026+~/-=";
            var text = new StringBuilder(chars + 64);
            while (text.Length < chars)
            {
                text.Append(symbols[random.Next(symbols.Length)], random.Next(1, 40));
            }

            return text.ToString(0, chars);
        }

        var b = new StringBuilder(chars + unit.Length);
        while (b.Length < chars)
        {
            b.Append(unit);
        }

        return b.ToString(0, chars);
    }

    /// <summary>The encoder of a preset at a context.</summary>
    public static PromptEncoder Encoder(string preset, int context)
    {
        string root = DevSet.RepositoryRoot();
        const string PromptOnly = "Task: is the user message safe or unsafe?\nUser: {prompt}\nAnswer:";
        const string PromptAndResponse = "Task: is the agent reply safe or unsafe?\nUser: {prompt}\nAgent: {response}\nAnswer:";
        string llama3 = Path.GetFullPath(Path.Combine(root, "..", "shared", "tokenizers", "llama3", "tokenizer.model"));
        TokenizerManifest tokenizer = preset switch
        {
            "llama3" => new TokenizerManifest { Kind = "tiktoken", Preset = "llama3", Path = llama3 },
            "o200k" => new TokenizerManifest
            {
                Kind = "tiktoken",
                Preset = "custom",
                Pattern = TokenizerPresets.O200kPattern,
                Path = llama3,
                SpecialTokens = new Dictionary<string, int>(StringComparer.Ordinal) { ["<|endoftext|>"] = 199999 },
            },
            "gpt2" => new TokenizerManifest { Kind = "tiktoken", Preset = "gpt2", Builtin = "gpt2" },
            _ => throw new ArgumentException($"Unknown preset '{preset}'.", nameof(preset)),
        };
        TemplateManifest template = preset == "llama3"
            ? new TemplateManifest { Kind = "llama-guard-3-8b" }
            : new TemplateManifest { Kind = "custom", PromptOnly = PromptOnly, PromptAndResponse = PromptAndResponse };
        string dir = Path.GetDirectoryName(llama3)!;
        return PromptEncoder.Create(new GuardManifest
        {
            Name = "adversarial-" + preset,
            Directory = dir,
            FilePath = Path.Combine(dir, GuardManifest.FileName),
            MaxSequenceLength = context,
            Tokenizer = tokenizer,
            Template = template,
            Verdict = new VerdictManifest { SafeTokenId = 0, UnsafeTokenId = 1, LmHeadRows = "rows.safetensors" },
        });
    }

    private static string Describe(string unit) => string.Join("+", unit.EnumerateRunes().Select(r => r.Value is >= 0x21 and < 0x7F ? ((char)r.Value).ToString() : $"U+{r.Value:X4}"))
        + (unit.Any(char.IsSurrogate) && !unit.EnumerateRunes().Any(r => r.Value > 0xFFFF) ? " (lone surrogate)" : "");
}

/// <summary>
/// The full scan (not BenchmarkDotNet): every class of <see cref="AdversarialInputs.All"/> at 10 MB as the prompt, for
/// each preset at 32k and 128k contexts, timed once with a stopwatch; then the three slowest of each preset and context
/// again as prompt, response and both, three times each (median). Writes <c>results/adversarial-encoding.md</c>.
/// </summary>
internal static class AdversarialEncodingScan
{
    /// <summary>Runs the scan.</summary>
    /// <param name="chars">Input length in UTF-16 characters (10 MB by default).</param>
    /// <param name="only">When given, only the classes whose name contains one of these strings (a quick re-check).</param>
    public static void Run(int chars = AdversarialInputs.TenMegabytes, IReadOnlyList<string>? only = null)
    {
        string[] presets = ["llama3", "o200k", "gpt2"];
        int[] contexts = [32768, 131072];
        IReadOnlyList<(string Name, string Unit)> classes = only is { Count: > 0 }
            ? [.. AdversarialInputs.All().Where(c => only.Any(o => c.Name.Equals(o, StringComparison.Ordinal)))]
            : AdversarialInputs.All();
        var encoders = new Dictionary<(string, int), PromptEncoder>();
        foreach (string preset in presets)
        {
            foreach (int context in contexts)
            {
                PromptEncoder encoder = AdversarialInputs.Encoder(preset, context);
                encoder.EncodeRaw(AdversarialInputs.Build("warm up ", 1 << 16), "warm up");
                encoders[(preset, context)] = encoder;
            }
        }

        var first = new Dictionary<(string, int), List<(double Ms, string Name, string Unit)>>();
        foreach ((string name, string unit) in classes)
        {
            string text = AdversarialInputs.Build(unit, chars);
            var line = new StringBuilder(name);
            foreach (KeyValuePair<(string, int), PromptEncoder> pair in encoders)
            {
                double ms = Time(pair.Value, text, null, out double cpu);
                (first.TryGetValue(pair.Key, out var list) ? list : first[pair.Key] = []).Add((ms, name, unit));
                line.Append(CultureInfo.InvariantCulture, $" | {pair.Key.Item1}@{pair.Key.Item2} {ms:F0} ms (cpu {cpu:F0})");
            }

            Console.WriteLine(line.ToString());
        }

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"# Adversarial encoding scan ({chars:N0} characters per text, {classes.Count} classes)");
        report.AppendLine();
        report.AppendLine("`dotnet run -c Release --project benchmarks/SafeRoute.Benchmarks -- adversarial-scan`. Stopwatch, one call per class");
        report.AppendLine("as the prompt; the three slowest per row again as prompt, response and both (median of 3). Milliseconds of wall-clock");
        report.AppendLine("time (process CPU time in brackets, which other jobs on a shared machine disturb less).");
        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"Load average when the scan ended: {LoadAverage()}.");
        report.AppendLine();
        report.AppendLine("| preset | context | median of all classes (prompt) | slowest classes: prompt / response / both | worst |");
        report.AppendLine("|---|---:|---:|---|---:|");
        foreach (KeyValuePair<(string, int), List<(double Ms, string Name, string Unit)>> pair in first)
        {
            PromptEncoder encoder = encoders[pair.Key];
            List<(double Ms, string Name, string Unit)> sorted = [.. pair.Value.OrderByDescending(x => x.Ms)];
            double median = sorted[sorted.Count / 2].Ms;
            (double Wall, double Cpu) worst = default;
            string worstWhat = "";
            var slowest = new List<string>();
            foreach ((double _, string name, string unit) in sorted.Take(3))
            {
                string text = AdversarialInputs.Build(unit, chars);
                (double Wall, double Cpu) p = Median(encoder, text, null);
                (double Wall, double Cpu) r = Median(encoder, "Is this safe?", text);
                (double Wall, double Cpu) b = Median(encoder, text, text);
                slowest.Add(string.Create(CultureInfo.InvariantCulture, $"`{name}` {p.Wall:F0} ({p.Cpu:F0}) / {r.Wall:F0} ({r.Cpu:F0}) / {b.Wall:F0} ({b.Cpu:F0})"));
                foreach (((double Wall, double Cpu) ms, string where) in new[] { (p, "prompt"), (r, "response"), (b, "both") })
                {
                    if (ms.Wall > worst.Wall)
                    {
                        worst = ms;
                        worstWhat = $"{name}, {where}";
                    }
                }
            }

            report.AppendLine(CultureInfo.InvariantCulture, $"| {pair.Key.Item1} | {pair.Key.Item2} | {median:F1} | {string.Join("; ", slowest)} | **{worst.Wall:F0}** ({worst.Cpu:F0}) {worstWhat} |");
            Console.WriteLine($"{pair.Key.Item1} {pair.Key.Item2}: median {median:F1} ms, worst {worst.Wall:F0} ms (cpu {worst.Cpu:F0}) ({worstWhat})");
        }

        string results = Path.Combine(DevSet.RepositoryRoot(), "benchmarks", "SafeRoute.Benchmarks", "results");
        Directory.CreateDirectory(results);
        File.WriteAllText(Path.Combine(results, only is { Count: > 0 } ? "adversarial-encoding-subset.md" : "adversarial-encoding.md"), report.ToString());
        Console.WriteLine(report.ToString());
    }

    /// <summary>Wall-clock milliseconds of one call; <paramref name="cpuMs"/> gets the process CPU time it took (less
    /// sensitive than wall-clock time to other jobs on a shared machine).</summary>
    private static string LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) + $" on {Environment.ProcessorCount} cores" : "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static double Time(PromptEncoder encoder, string prompt, string? response, out double cpuMs)
    {
        TimeSpan cpu = Environment.CpuUsage.TotalTime;
        long start = Stopwatch.GetTimestamp();
        EncodedPrompt encoded = encoder.EncodeRaw(prompt, response);
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        cpuMs = (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds;
        if (encoded.TokenIds.Length > encoder.MaxSequenceLength)
        {
            throw new InvalidOperationException("Sequence over the maximum.");
        }

        return ms;
    }

    /// <summary>Median of three calls: (wall, CPU) milliseconds.</summary>
    private static (double Wall, double Cpu) Median(PromptEncoder encoder, string prompt, string? response)
    {
        var runs = new (double Wall, double Cpu)[3];
        for (int i = 0; i < runs.Length; i++)
        {
            runs[i].Wall = Time(encoder, prompt, response, out runs[i].Cpu);
        }

        double[] wall = [.. runs.Select(r => r.Wall).Order()];
        double[] cpu = [.. runs.Select(r => r.Cpu).Order()];
        return (wall[1], cpu[1]);
    }
}
