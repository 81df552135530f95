using System.Text.Json;
using SafeRoute.Remote;

namespace SafeRoute.Tests.Integrations;

/// <summary>Issue 15: the remote guard reads Llama Guard 3's category line ("unsafe\nS1,S10") when asked to.</summary>
[TestFixture]
public sealed class RemoteCategoryTests
{
    private static IReadOnlyList<CategoryScore>? Read(string text, bool is8B = true)
    {
        using JsonDocument doc = JsonDocument.Parse(JsonSerializer.Serialize(new { text }));
        return RemoteSafetyGuard.ReadCategories(doc.RootElement, is8B);
    }

    [Test]
    public void CategoryLine_IsRead_InOrder_EachOnce()
    {
        IReadOnlyList<CategoryScore>? categories = Read("unsafe\nS10, S1,S10");
        Assert.That(categories!.Select(c => (c.Name, c.Probability, c.IsFlagged)), Is.EqualTo(new[] { ("S10", 1f, true), ("S1", 1f, true) }));
    }

    [TestCase("unsafe")]
    [TestCase("unsafe\n")]
    [TestCase("safe\nS1")]
    [TestCase("unsafe\nS99,violence")]
    [TestCase("unsafe\nS1O")]
    public void LineWithoutKnownCategories_GivesNone(string text) => Assert.That(Read(text), Is.Null);

    [Test]
    public void S14_IsAn8BCategoryOnly()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Read("unsafe\nS14", is8B: true)!.Single().Name, Is.EqualTo("S14"));
            Assert.That(Read("unsafe\nS14", is8B: false), Is.Null);
        });
    }

    [Test]
    public void ChoiceWithoutText_GivesNone()
    {
        using JsonDocument doc = JsonDocument.Parse("""{"logprobs":{}}""");
        Assert.That(RemoteSafetyGuard.ReadCategories(doc.RootElement, is8B: true), Is.Null);
    }
}
