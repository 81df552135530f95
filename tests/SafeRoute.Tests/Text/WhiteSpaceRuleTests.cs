using SafeRoute.Remote;
using SafeRoute.Text;
using static SafeRoute.Tests.Text.TextTestSupport;

namespace SafeRoute.Tests.Text;

/// <summary>
/// One white-space rule (issue 14, defect 7): Python's str.isspace() set, which Llama Guard's chat template strips, is
/// used by <see cref="SafetyRequest"/>, by every local template and by the remote prompt, so both tiers judge the same turn.
/// </summary>
[TestFixture]
public sealed class WhiteSpaceRuleTests
{
    // Responses that are only white space by Python's rule; U+001C–U+001F are not white space for .NET's string.IsNullOrWhiteSpace.
    private static readonly string[] BlankResponses = ["\u001C", "\u001D\u001E\u001F", " \u001F\u3000\u2028\n", "\u0085\u00A0\u1680\u202F\u205F"];

    [TestCase("8b")]
    [TestCase("1b")]
    public void LocalAndRemote_AgreeOnHasResponse(string size)
    {
        PromptEncoder local = LlamaGuard(size);
        bool is8B = size == "8b";
        var promptOnly = new SafetyRequest("Question?");
        int[] localPromptOnly = local.Encode(promptOnly).TokenIds;
        string remotePromptOnly = LlamaGuard3Prompt.Render(promptOnly, is8B);
        Assert.Multiple(() =>
        {
            foreach (string blank in BlankResponses)
            {
                var request = new SafetyRequest("Question?", blank);
                Assert.That(request.HasResponse, Is.False, Escape(blank));
                Assert.That(local.Encode(request).TokenIds, Is.EqualTo(localPromptOnly), "local, " + Escape(blank));
                Assert.That(local.EncodeRaw("Question?", blank).TokenIds, Is.EqualTo(localPromptOnly), "local raw, " + Escape(blank));
                Assert.That(LlamaGuard3Prompt.Render(request, is8B), Is.EqualTo(remotePromptOnly), "remote, " + Escape(blank));
            }

            // A real response: both tiers switch to the Agent template.
            var withResponse = new SafetyRequest("Question?", "\u001CAnswer.\u001F");
            Assert.That(withResponse.HasResponse, Is.True);
            Assert.That(local.Encode(withResponse).TokenIds, Is.EqualTo(local.Encode(new SafetyRequest("Question?", "Answer.")).TokenIds));
            Assert.That(local.Encode(withResponse).TokenIds, Is.Not.EqualTo(localPromptOnly));
            Assert.That(LlamaGuard3Prompt.Render(withResponse, is8B), Does.Contain("ONLY THE LAST Agent message").And.Contain("Agent: Answer.\n\n"));
        });
    }

    [Test]
    public void LocalTemplates_StripPythonWhiteSpace()
    {
        PromptEncoder custom = Plain("<|begin_of_text|>[{prompt}]", strip: true);
        PromptEncoder guard = LlamaGuard("8b");
        Assert.Multiple(() =>
        {
            Assert.That(custom.EncodeRaw("\u001C\u001D hi \u001E\u001F", null).TokenIds, Is.EqualTo(custom.EncodeRaw("hi", null).TokenIds));
            Assert.That(guard.Encode(new SafetyRequest("\u001FQuestion?\u001C")).TokenIds, Is.EqualTo(guard.Encode(new SafetyRequest("Question?")).TokenIds));
            Assert.That(PythonText.Strip("\u001C\u001D"), Is.Empty);
        });
    }

    private static string Escape(string s) => string.Concat(s.Select(c => $"\\u{(int)c:X4}"));
}
