namespace SafeRoute.Tests.TestModels;

/// <summary>
/// A real decoder guard on GPT-2 tokenization (tiktoken preset "gpt2", a custom Llama-Guard-like template, verdict rows
/// of the language-model head): the v1 default small guard (issue 3; 1 layer, d = 64, 0.59 M parameters), kept as a
/// test model when the defaults became sequence classifiers (issue 16). Tests of the decoder path's template cache,
/// GPT-2 encoding cost and special-token injection run against it. Copied to the test output folder.
/// </summary>
internal static class Gpt2DecoderGuard
{
    /// <summary>The model folder (saferoute.json, model.onnx, verdict_rows.safetensors).</summary>
    public static string Path => System.IO.Path.Combine(TestContext.CurrentContext.TestDirectory, "TestModels", "gpt2-decoder-guard");
}
