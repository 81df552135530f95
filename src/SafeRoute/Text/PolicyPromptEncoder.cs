namespace SafeRoute.Text;

/// <summary>
/// The encoder of a per-policy guard: one <see cref="PromptEncoder"/> per policy (sharing one tokenizer), each rendering
/// the request with its policy in the template. The result is the first policy's prompt carrying every policy's prompt in
/// <see cref="EncodedPrompt.PolicyRows"/>; it is truncated when any of them is.
/// </summary>
internal sealed class PolicyPromptEncoder : IPromptEncoder
{
    private readonly PromptEncoder[] _encoders;

    public PolicyPromptEncoder(PromptEncoder[] encoders)
    {
        _encoders = encoders;
    }

    /// <summary>Gets the encoder of each policy, in policy order.</summary>
    public IReadOnlyList<PromptEncoder> Encoders => _encoders;

    public int MaxSequenceLength => _encoders[0].MaxSequenceLength;

    public EncodedPrompt Encode(SafetyRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return EncodeRaw(request.Prompt, request.Response, cancellationToken);
    }

    public EncodedPrompt EncodeRaw(string prompt, string? response, CancellationToken cancellationToken = default)
    {
        var rows = new EncodedPrompt[_encoders.Length];
        bool truncated = false;
        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = _encoders[i].EncodeRaw(prompt, response, cancellationToken);
            truncated |= rows[i].Truncated;
        }

        return new EncodedPrompt(rows[0].TokenIds, truncated) { PolicyRows = rows };
    }
}
