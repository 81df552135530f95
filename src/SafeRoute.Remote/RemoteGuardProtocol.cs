namespace SafeRoute.Remote;

/// <summary>The server API a <see cref="RemoteSafetyGuard"/> speaks.</summary>
public enum RemoteGuardProtocol
{
    /// <summary>A decoder guard over the OpenAI-compatible <c>/v1/completions</c> API (vLLM, TGI, llama.cpp server):
    /// the family's prompt (<see cref="RemoteSafetyGuardOptions.PromptFormat"/>) with one generated token and its top
    /// logprobs (or the exact logprobs of <see cref="RemoteSafetyGuardOptions.VerdictTokenIds"/>).</summary>
    Completions = 0,

    /// <summary>A sequence classifier on vLLM's <c>/classify</c> (a model served with <c>--runner pooling --convert
    /// classify</c>): request <c>{"model", "input": [texts]}</c>, answer <c>data[i].probs</c>, one probability per label
    /// in <see cref="RemoteSafetyGuardOptions.ClassifierLabels"/> order. One text per input, so it checks prompts only.</summary>
    VllmClassify = 1,

    /// <summary>A sequence classifier on Text Embeddings Inference's <c>/predict</c>: request <c>{"inputs": [[prompt],
    /// [prompt, response]], "raw_scores": false}</c> (a batch of single texts or pairs), answer one list of
    /// <c>{"score", "label"}</c> per input.</summary>
    TeiPredict = 2,
}
