using System.Globalization;
using SafeRoute.Models;
using SafeRoute.Text;

namespace SafeRoute.Onnx;

/// <summary>
/// The verdict tokens of a decoder guard and how their logits at the last position become the two verdict logits.
/// Llama Guard 3: one safe and one unsafe token, read as they are. Families whose verdict is one of several tokens
/// (Qwen3Guard's Safe / Unsafe / Controversial, case and leading-space variants of yes / no): every listed token's logit
/// z is read, and the safe and unsafe logits are the log-sum-exp of each side's tokens, so that softmax over the two
/// is the normalised mass of the unsafe side among the listed tokens. The "controversial" tokens count on the unsafe
/// side (strict) or the safe side (loose).
/// </summary>
internal sealed class VerdictHead
{
    private const byte Safe = 0;
    private const byte Unsafe = 1;
    private const byte Controversial = 2;

    private readonly byte[] _labels;
    private readonly bool _single; // one safe and one unsafe token: logits read as they are

    private VerdictHead(int[] tokenIds, byte[] labels, bool controversialIsUnsafe)
    {
        TokenIds = tokenIds;
        _labels = labels;
        ControversialIsUnsafe = controversialIsUnsafe;
        _single = tokenIds.Length == 2 && labels[0] == Safe && labels[1] == Unsafe;
    }

    /// <summary>Gets the verdict token ids in row order: safe tokens, then unsafe, then controversial.</summary>
    public int[] TokenIds { get; }

    /// <summary>Gets the number of verdict tokens (rows of the lm_head rows file).</summary>
    public int Count => TokenIds.Length;

    public int MaxTokenId => TokenIds.Max();

    public bool HasControversial => Array.IndexOf(_labels, Controversial) >= 0;

    public bool ControversialIsUnsafe { get; }

    /// <summary>The ids, for messages.</summary>
    public string Describe() => string.Join(", ", TokenIds.Select(id => id.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Resolves the manifest's verdict (ids, labels, or the built-in family's labels) against the tokenizer.</summary>
    /// <exception cref="SafeRouteException">A token string is not exactly one token, two strings give the same token, an id
    /// is outside the vocabulary.</exception>
    public static VerdictHead Create(GuardManifest manifest, PromptEncoder encoder, bool? controversialAsUnsafe)
    {
        VerdictManifest verdict = manifest.Verdict!;
        SafeRouteException Fail(string field, string problem) => new($"The manifest '{manifest.FilePath}' is invalid: '{field}' {problem}.");
        VerdictLabelsManifest? labels = verdict.Labels;
        string field = "verdict.labels";
        if (labels is null && verdict.SafeTokenId == -1 && verdict.UnsafeTokenId == -1 && FamilyTemplates.TryGet(manifest.Template?.Kind, out FamilyTemplate? family))
        {
            labels = family.Labels;
            field = $"template.kind '{family.Kind}' (its verdict tokens)";
        }

        int[] ids;
        byte[] kinds;
        if (labels is null)
        {
            ids = [verdict.SafeTokenId, verdict.UnsafeTokenId];
            kinds = [Safe, Unsafe];
        }
        else
        {
            var idList = new List<int>();
            var kindList = new List<byte>();
            var owner = new Dictionary<int, string>();
            Add("safe", labels.Safe!, Safe);
            Add("unsafe", labels.Unsafe!, Unsafe);
            Add("controversial", labels.Controversial ?? [], Controversial);
            ids = [.. idList];
            kinds = [.. kindList];

            void Add(string label, string[] tokens, byte kind)
            {
                foreach (string token in tokens)
                {
                    int[] encoded = encoder.EncodeTrusted(token);
                    string shown = VerdictLabelsManifest.Escape(token);
                    if (encoded.Length != 1)
                    {
                        string pieces = string.Join(", ", encoded.Select(id => id.ToString(CultureInfo.InvariantCulture)));
                        throw Fail(field, encoded.Length == 0
                            ? $"has the {label} token string \"{shown}\", which encodes to no token"
                            : $"has the {label} token string \"{shown}\", which encodes to {encoded.Length} tokens ({pieces}), not one; list a string that is one token of this tokenizer (a multi-token verdict such as Qwen3Guard's \" Controversial\" is read by its first token, \" Cont\", when no other verdict starts with it)");
                    }

                    if (owner.TryGetValue(encoded[0], out string? other))
                    {
                        throw Fail(field, $"has the {label} token string \"{shown}\", which is token {encoded[0].ToString(CultureInfo.InvariantCulture)}, already listed for {other}");
                    }

                    owner[encoded[0]] = $"'{label}' (\"{shown}\")";
                    idList.Add(encoded[0]);
                    kindList.Add(kind);
                }
            }
        }

        if (ids.Max() >= encoder.VocabularySize)
        {
            throw new SafeRouteException($"The manifest '{manifest.FilePath}' is invalid: the verdict token ids ({string.Join(", ", ids)}) are outside the tokenizer's vocabulary of {encoder.VocabularySize} ids.");
        }

        return new VerdictHead(ids, kinds, controversialAsUnsafe ?? verdict.ControversialAs == "unsafe");
    }

    /// <summary>Turns the logits of the verdict tokens (in <see cref="TokenIds"/> order) into the safe and unsafe logits.</summary>
    public (float Safe, float Unsafe) Combine(ReadOnlySpan<float> z)
    {
        foreach (float value in z)
        {
            if (!float.IsFinite(value))
            {
                return (float.NaN, float.NaN); // the caller refuses non-finite logits
            }
        }

        if (_single)
        {
            return (z[0], z[1]);
        }

        double max = double.NegativeInfinity;
        foreach (float value in z)
        {
            max = Math.Max(max, value);
        }

        double safe = 0;
        double @unsafe = 0;
        for (int i = 0; i < z.Length; i++)
        {
            double e = Math.Exp(z[i] - max);
            if (_labels[i] == Unsafe || (_labels[i] == Controversial && ControversialIsUnsafe))
            {
                @unsafe += e;
            }
            else
            {
                safe += e;
            }
        }

        // log(0) = -inf cannot happen: each side has at least one token (controversial never stands alone).
        return ((float)(max + Math.Log(safe)), (float)(max + Math.Log(@unsafe)));
    }
}
