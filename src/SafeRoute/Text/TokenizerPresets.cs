using System.Globalization;
using System.Text;

namespace SafeRoute.Text;

/// <summary>Split patterns and special tokens of the tiktoken presets a manifest can name.</summary>
/// <remarks>
/// <para>
/// Patterns are the published ones (tiktoken's <c>openai_public.py</c>; Meta's Llama 3 tokenizer), in the forms
/// without possessive quantifiers, which .NET regular expressions do not support (they match the same text).
/// </para>
/// <para>
/// .NET regular expressions match UTF-16 code units, so <c>\p{L}</c> or <c>\p{N}</c> never matches a character outside
/// the Basic Multilingual Plane (a surrogate pair), and <c>[^\s\p{L}\p{N}]</c> matches each half of one. The reference
/// (tiktoken, Python's <c>regex</c> module) matches code points. Each class is therefore widened with an alternation of
/// surrogate-pair ranges for the supplementary-plane code points of the class, built when this type is initialised from
/// <see cref="Rune.GetUnicodeCategory(Rune)"/> (the Unicode version of the running .NET, which may be newer or older
/// than the reference's: a code point assigned in only one of them can be classified differently), and a negated class
/// matches a whole supplementary-plane code point that is neither a letter nor a number. A surrogate pair is never split;
/// a lone surrogate (which the encoder replaces with U+FFFD beforehand) counts as "other". Text made only of BMP
/// characters matches exactly as with the published pattern.
/// </para>
/// </remarks>
internal static class TokenizerPresets
{
    /// <summary>The published Llama 3 (and cl100k_base) split pattern, which matches UTF-16 units.</summary>
    internal const string Llama3PublishedPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The published GPT-2 / r50k_base split pattern, which matches UTF-16 units.</summary>
    internal const string Gpt2PublishedPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>The published o200k_base split pattern, which matches UTF-16 units.</summary>
    internal const string O200kPublishedPattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Gets the Llama 3 (and cl100k_base) split pattern, matching supplementary-plane characters as code points.</summary>
    public static string Llama3Pattern => AstralPatterns.Llama3;

    /// <summary>Gets the Qwen2 / Qwen3 split pattern (Llama 3's with single digits, <c>\p{N}</c> instead of
    /// <c>\p{N}{1,3}</c>, as in Qwen3's <c>tokenizer.json</c>), matching supplementary-plane characters as code points.</summary>
    public static string Qwen2Pattern => AstralPatterns.Qwen2;

    /// <summary>
    /// The 26 added tokens of Qwen3's tokenizer (<c>tokenizer.json</c> of Qwen/Qwen3-*, also Qwen3Guard), ids
    /// 151643–151668 after the 151,643 byte-level BPE ranks. <c>&lt;think&gt;</c>, <c>&lt;/think&gt;</c> and the tool and
    /// fill-in-the-middle markers are added but not "special" there; here, as every added token, they are recognised in
    /// template text only, never in user text.
    /// </summary>
    public static IReadOnlyDictionary<string, int> Qwen3SpecialTokens { get; } = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["<|endoftext|>"] = 151643,
        ["<|im_start|>"] = 151644,
        ["<|im_end|>"] = 151645,
        ["<|object_ref_start|>"] = 151646,
        ["<|object_ref_end|>"] = 151647,
        ["<|box_start|>"] = 151648,
        ["<|box_end|>"] = 151649,
        ["<|quad_start|>"] = 151650,
        ["<|quad_end|>"] = 151651,
        ["<|vision_start|>"] = 151652,
        ["<|vision_end|>"] = 151653,
        ["<|vision_pad|>"] = 151654,
        ["<|image_pad|>"] = 151655,
        ["<|video_pad|>"] = 151656,
        ["<tool_call>"] = 151657,
        ["</tool_call>"] = 151658,
        ["<|fim_prefix|>"] = 151659,
        ["<|fim_middle|>"] = 151660,
        ["<|fim_suffix|>"] = 151661,
        ["<|fim_pad|>"] = 151662,
        ["<|repo_name|>"] = 151663,
        ["<|file_sep|>"] = 151664,
        ["<tool_response>"] = 151665,
        ["</tool_response>"] = 151666,
        ["<think>"] = 151667,
        ["</think>"] = 151668,
    };

    /// <summary>Gets the GPT-2 / r50k_base split pattern, matching supplementary-plane characters as code points.</summary>
    public static string Gpt2Pattern => AstralPatterns.Gpt2;

    /// <summary>Gets the cl100k_base split pattern (the same as Llama 3's).</summary>
    public static string Cl100kPattern => AstralPatterns.Llama3;

    /// <summary>Gets the o200k_base split pattern, matching supplementary-plane characters as code points.</summary>
    public static string O200kPattern => AstralPatterns.O200k;

    /// <summary>Builds the Llama 3, GPT-2 and o200k patterns with nested (as shipped) or flat surrogate-pair alternations.</summary>
    internal static (string Llama3, string Gpt2, string O200k) BuildAstralPatterns(bool nested) => AstralPatterns.Build(nested);

    /// <summary>Llama 3 <c>&lt;|begin_of_text|&gt;</c>.</summary>
    public const int BeginOfText = 128000;

    /// <summary>Llama 3 <c>&lt;|start_header_id|&gt;</c>.</summary>
    public const int StartHeaderId = 128006;

    /// <summary>Llama 3 <c>&lt;|end_header_id|&gt;</c>.</summary>
    public const int EndHeaderId = 128007;

    /// <summary>Llama 3 <c>&lt;|eot_id|&gt;</c>.</summary>
    public const int EotId = 128009;

    private static readonly Lazy<Dictionary<string, int>> Llama3 = new(CreateLlama3SpecialTokens);

    /// <summary>
    /// The 256 special tokens of Llama 3.1 / 3.2 (and Llama Guard 3), ids 128000–128255, as in the models'
    /// Hugging Face <c>tokenizer_config.json</c>: 128011 is <c>&lt;|reserved_special_token_3|&gt;</c> and 128255
    /// <c>&lt;|reserved_special_token_247|&gt;</c>, i.e. N = id − 128008 from 128011 on.
    /// </summary>
    public static IReadOnlyDictionary<string, int> Llama3SpecialTokens => Llama3.Value;

    /// <summary>Gets a preset's pattern and special tokens.</summary>
    /// <param name="preset">"llama3", "gpt2" (alias "r50k"), "cl100k" or "o200k".</param>
    /// <param name="pattern">The split pattern.</param>
    /// <param name="specialTokens">The preset's special tokens.</param>
    /// <returns><see langword="false"/> for an unknown preset (including "custom").</returns>
    public static bool TryGet(string preset, out string pattern, out IReadOnlyDictionary<string, int> specialTokens)
    {
        switch (preset)
        {
            case "llama3":
                pattern = Llama3Pattern;
                specialTokens = Llama3SpecialTokens;
                return true;
            case "qwen3":
                pattern = Qwen2Pattern;
                specialTokens = Qwen3SpecialTokens;
                return true;
            case "gpt2" or "r50k":
                pattern = Gpt2Pattern;
                specialTokens = new Dictionary<string, int>(StringComparer.Ordinal) { ["<|endoftext|>"] = 50256 };
                return true;
            case "cl100k":
                pattern = Cl100kPattern;
                specialTokens = new Dictionary<string, int>(StringComparer.Ordinal)
                {
                    ["<|endoftext|>"] = 100257,
                    ["<|fim_prefix|>"] = 100258,
                    ["<|fim_middle|>"] = 100259,
                    ["<|fim_suffix|>"] = 100260,
                    ["<|endofprompt|>"] = 100276,
                };
                return true;
            case "o200k":
                pattern = O200kPattern;
                specialTokens = new Dictionary<string, int>(StringComparer.Ordinal) { ["<|endoftext|>"] = 199999, ["<|endofprompt|>"] = 200018 };
                return true;
            default:
                pattern = "";
                specialTokens = new Dictionary<string, int>();
                return false;
        }
    }

    private static Dictionary<string, int> CreateLlama3SpecialTokens()
    {
        var tokens = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["<|begin_of_text|>"] = 128000,
            ["<|end_of_text|>"] = 128001,
            ["<|reserved_special_token_0|>"] = 128002,
            ["<|reserved_special_token_1|>"] = 128003,
            ["<|finetune_right_pad_id|>"] = 128004,
            ["<|reserved_special_token_2|>"] = 128005,
            ["<|start_header_id|>"] = 128006,
            ["<|end_header_id|>"] = 128007,
            ["<|eom_id|>"] = 128008,
            ["<|eot_id|>"] = 128009,
            ["<|python_tag|>"] = 128010,
        };
        for (int id = 128011; id <= 128255; id++)
        {
            tokens[string.Create(CultureInfo.InvariantCulture, $"<|reserved_special_token_{id - 128008}|>")] = id;
        }

        return tokens;
    }

    /// <summary>The patterns with code-point-aware classes, built once.</summary>
    private static class AstralPatterns
    {
        // Never matches: for a class with no supplementary-plane member.
        private const string Nothing = "(?!)";

        // A lone surrogate (not half of a pair): "other", like U+FFFD which the encoder substitutes for it.
        private const string LoneSurrogate = @"(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])";

        private static readonly (string Llama3, string Gpt2, string O200k) Built = Build(nested: true);

        /// <summary>Gets the Llama 3 / cl100k_base pattern.</summary>
        public static string Llama3 => Built.Llama3;

        /// <summary>Gets the GPT-2 / r50k_base pattern.</summary>
        public static string Gpt2 => Built.Gpt2;

        /// <summary>Gets the Qwen2 / Qwen3 pattern: Llama 3's with one digit per number piece.</summary>
        public static string Qwen2 { get; } = OneDigit(Built.Llama3);

        private static string OneDigit(string llama3)
        {
            // The number branch is the only "{1,3}" of the Llama 3 pattern.
            int at = llama3.IndexOf("{1,3}", StringComparison.Ordinal);
            return llama3.Remove(at, "{1,3}".Length);
        }

        /// <summary>Gets the o200k_base pattern.</summary>
        public static string O200k => Built.O200k;

        /// <summary>Builds the three patterns; <paramref name="nested"/> false gives the flat alternations of surrogate
        /// pairs (slower; the same matches, which a test checks over every supplementary-plane code point).</summary>
        public static (string Llama3, string Gpt2, string O200k) Build(bool nested)
        {
            string letter = Pairs(IsLetter, nested);
            string number = Pairs(IsNumber, nested);
            string notLetterOrNumber = Pairs(c => !IsLetter(c) && !IsNumber(c), nested);
            string upperLike = Pairs(c => c is UnicodeCategory.UppercaseLetter or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter || IsMark(c), nested);
            string lowerLike = Pairs(c => c is UnicodeCategory.LowercaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter || IsMark(c), nested);

            // Classes: a BMP character as in the published pattern, or a supplementary-plane code point of the same class.
            // The branches of each class are mutually exclusive (a BMP class without surrogates, pairs with disjoint high
            // surrogates, lone surrogates), so the groups are atomic: the same matches, without retrying the other
            // branches at every backtracking step.
            string l = $@"(?>\p{{L}}|{letter})";
            string n = $@"(?>\p{{N}}|{number})";
            string otherNoCrLf = $@"(?>[^\r\n\p{{L}}\p{{N}}\uD800-\uDFFF]|{notLetterOrNumber}|{LoneSurrogate})";
            string otherNoSpace = $@"(?>[^\s\p{{L}}\p{{N}}\uD800-\uDFFF]|{notLetterOrNumber}|{LoneSurrogate})";
            string upper = $@"(?>[\p{{Lu}}\p{{Lt}}\p{{Lm}}\p{{Lo}}\p{{M}}]|{upperLike})";
            string lower = $@"(?>[\p{{Ll}}\p{{Lm}}\p{{Lo}}\p{{M}}]|{lowerLike})";

            string llama3 = $@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|{otherNoCrLf}?{l}+|{n}{{1,3}}| ?{otherNoSpace}+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
            string gpt2 = $@"'s|'t|'re|'ve|'m|'ll|'d| ?{l}+| ?{n}+| ?{otherNoSpace}+|\s+(?!\S)|\s+";
            string o200k =
                $@"{otherNoCrLf}?{upper}*{lower}+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
                $@"|{otherNoCrLf}?{upper}+{lower}*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
                $@"|{n}{{1,3}}| ?{otherNoSpace}+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
            return (llama3, gpt2, o200k);
        }

        private static bool IsLetter(UnicodeCategory c) => c <= UnicodeCategory.OtherLetter;

        private static bool IsNumber(UnicodeCategory c) => c is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

        private static bool IsMark(UnicodeCategory c) => c is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

        /// <summary>
        /// An alternation matching the surrogate pair of every code point U+10000–U+10FFFF whose category satisfies
        /// <paramref name="include"/>: one branch per run of high surrogates with the same set of low-surrogate ranges.
        /// </summary>
        private static string Pairs(Func<UnicodeCategory, bool> include, bool nested)
        {
            var branches = new List<(int FirstHigh, int LastHigh, string Lows)>();
            var lows = new StringBuilder();
            for (int high = 0; high < 1024; high++)
            {
                lows.Clear();
                int start = -1;
                for (int low = 0; low <= 1024; low++)
                {
                    bool member = low < 1024 && include(Rune.GetUnicodeCategory(new Rune(0x10000 + (high << 10) + low)));
                    if (member && start < 0)
                    {
                        start = low;
                    }
                    else if (!member && start >= 0)
                    {
                        AppendRange(lows, 0xDC00 + start, 0xDC00 + low - 1);
                        start = -1;
                    }
                }

                if (lows.Length == 0)
                {
                    continue;
                }

                string set = lows.ToString();
                if (branches.Count > 0 && branches[^1].LastHigh == 0xD800 + high - 1 && branches[^1].Lows == set)
                {
                    branches[^1] = (branches[^1].FirstHigh, 0xD800 + high, set);
                }
                else
                {
                    branches.Add((0xD800 + high, 0xD800 + high, set));
                }
            }

            if (branches.Count == 0)
            {
                return Nothing;
            }

            // The look-ahead on the exact set of high surrogates with a member lets any other character (a BMP
            // character, or a pair none of whose high surrogate's code points is in the class, e.g. most emoji for the
            // letter and number classes) fail the whole alternation at once: without it, backtracking over a long run
            // tried every branch at every position (seconds per megabyte under o200k's pattern). The branches are then
            // nested in groups of at most GroupSize behind a look-ahead on each group's high-surrogate range, so a pair
            // that passes the first look-ahead tries O(log n) look-aheads and branches instead of all n branches (a
            // failing pair tried every branch of each class it was tested against: o200k tries up to ten classes per
            // character). The branches have disjoint high surrogates, so their order and grouping do not change matches.
            var b = new StringBuilder();
            if (nested)
            {
                b.Append("(?=[");
                foreach ((int firstHigh, int lastHigh) in MergeRanges(branches))
                {
                    AppendRange(b, firstHigh, lastHigh);
                }

                b.Append("])");
                AppendTree(b, branches, 0, branches.Count);
            }
            else
            {
                // The form before the nesting (any high surrogate passes the look-ahead), for the equivalence test.
                b.Append(@"(?=[\uD800-\uDBFF])");
                AppendAlternation(b, branches, 0, branches.Count);
            }

            return b.ToString();
        }

        // Branches per alternation level of the tree built by AppendTree.
        private const int GroupSize = 8;

        private static void AppendTree(StringBuilder b, List<(int FirstHigh, int LastHigh, string Lows)> branches, int start, int count)
        {
            if (count <= GroupSize)
            {
                AppendAlternation(b, branches, start, count);
            }
            else
            {
                // GroupSize groups of (nearly) equal size, each behind a look-ahead on its high-surrogate range.
                b.Append("(?:");
                int size = (count + GroupSize - 1) / GroupSize;
                for (int first = start; first < start + count; first += size)
                {
                    int n = Math.Min(size, start + count - first);
                    if (first > start)
                    {
                        b.Append('|');
                    }

                    b.Append("(?=[");
                    AppendRange(b, branches[first].FirstHigh, branches[first + n - 1].LastHigh);
                    b.Append("])");
                    AppendTree(b, branches, first, n);
                }

                b.Append(')');
            }
        }

        private static void AppendAlternation(StringBuilder b, List<(int FirstHigh, int LastHigh, string Lows)> branches, int start, int count)
        {
            b.Append("(?:");
            for (int i = start; i < start + count; i++)
            {
                if (i > start)
                {
                    b.Append('|');
                }

                b.Append('[');
                AppendRange(b, branches[i].FirstHigh, branches[i].LastHigh);
                b.Append("][").Append(branches[i].Lows).Append(']');
            }

            b.Append(')');
        }

        private static IEnumerable<(int First, int Last)> MergeRanges(List<(int FirstHigh, int LastHigh, string Lows)> branches)
        {
            int first = branches[0].FirstHigh;
            int last = branches[0].LastHigh;
            for (int i = 1; i < branches.Count; i++)
            {
                if (branches[i].FirstHigh == last + 1)
                {
                    last = branches[i].LastHigh;
                }
                else
                {
                    yield return (first, last);
                    first = branches[i].FirstHigh;
                    last = branches[i].LastHigh;
                }
            }

            yield return (first, last);
        }

        private static void AppendRange(StringBuilder b, int first, int last)
        {
            b.Append(CultureInfo.InvariantCulture, $@"\u{first:X4}");
            if (last > first)
            {
                b.Append(CultureInfo.InvariantCulture, $@"-\u{last:X4}");
            }
        }
    }
}
