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
