namespace SafeRoute.Tests.Core;

[TestFixture]
public sealed class SafetyRequestTests
{
    [Test]
    public void Ctor_ArgValidation()
    {
        Assert.Throws<ArgumentNullException>(() => _ = new SafetyRequest(null!));
        Assert.Throws<ArgumentException>(() => _ = new SafetyRequest(""));
        Assert.Throws<ArgumentException>(() => _ = new SafetyRequest(" \t\n"));
    }

    // Python's str.isspace() set (Llama Guard's template strips it): .NET's char.IsWhiteSpace set plus U+001C–U+001F.
    // Control characters in [TestCase] arguments make the test adapter drop the case, so the cases are named in code.
    private static IEnumerable<TestCaseData> PythonWhiteSpace() =>
    [
        new TestCaseData("\u001C\u001D").SetName("InformationSeparators_1C_1D"),
        new TestCaseData("\u001E\u001F").SetName("InformationSeparators_1E_1F"),
        new TestCaseData("\u001C").SetName("FileSeparatorAlone"),
        new TestCaseData(" \u001C\u0085\u00A0\u1680\u2000\u200A\u2028\u2029\u202F\u205F\u3000\t\n\v\f\r").SetName("EveryKind"),
    ];

    [TestCaseSource(nameof(PythonWhiteSpace))]
    public void Ctor_PythonWhiteSpacePrompt_Throws(string prompt)
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => _ = new SafetyRequest(prompt))!;
        Assert.That(ex.ParamName, Is.EqualTo("prompt"));
    }

    [TestCaseSource(nameof(PythonWhiteSpace))]
    public void Ctor_PythonWhiteSpaceResponse_IsPromptOnly(string response)
    {
        var request = new SafetyRequest("hello", response);
        Assert.That(request.HasResponse, Is.False);
        Assert.That(request.Response, Is.Null);
        Assert.That(request, Is.EqualTo(new SafetyRequest("hello")));
    }

    [Test]
    public void Ctor_ZeroWidthSpace_IsNotWhiteSpace()
    {
        // U+200B is not white space in Python (nor .NET): a prompt of it is text, as Llama Guard's template keeps it.
        Assert.That(new SafetyRequest("\u200B", "\u200B").HasResponse, Is.True);
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("   ")]
    [TestCase("\r\n\t")]
    public void Ctor_WhitespaceResponse_IsPromptOnly(string? response)
    {
        var request = new SafetyRequest("hello", response);
        Assert.That(request.Response, Is.Null);
        Assert.That(request.HasResponse, Is.False);
        Assert.That(request, Is.EqualTo(new SafetyRequest("hello")));
    }

    [Test]
    public void Ctor_KeepsTextAsGiven()
    {
        var request = new SafetyRequest("  hi  ", " there ");
        Assert.That(request.Prompt, Is.EqualTo("  hi  "));
        Assert.That(request.Response, Is.EqualTo(" there "));
        Assert.That(request.HasResponse, Is.True);
    }

    [Test]
    public void ToString_DoesNotContainUserText()
    {
        var request = new SafetyRequest("secret prompt text", "secret reply");
        string text = request.ToString();
        Assert.That(text, Does.Not.Contain("secret"));
        Assert.That(text, Does.Contain("18"));
    }

    [Test]
    public void Equality_IsOrdinal()
    {
        var first = new SafetyRequest("a", "b");
        var second = new SafetyRequest("a", "b");
        Assert.That(first, Is.EqualTo(second));
        Assert.That(first, Is.Not.EqualTo(new SafetyRequest("A", "b")));
        Assert.That(first.GetHashCode(), Is.EqualTo(second.GetHashCode()));
    }
}
