using SafeRoute.Models;

namespace SafeRoute.Tests.Core;

[TestFixture]
public sealed class GuardManifestTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "saferoute-manifest-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private const string Valid = """
        {
          "formatVersion": 1,
          "name": "tiny",
          "onnx": "model.onnx",
          "tokenizer": { "kind": "tiktoken", "path": "tok.tiktoken", "preset": "llama3" },
          "template": { "kind": "llama-guard-3-1b" },
          "verdict": { "safeTokenId": 19193, "unsafeTokenId": 39257, "source": "lmHeadRows", "lmHeadRows": "rows.safetensors" },
          "maxSequenceLength": 4096
        }
        """;

    [Test]
    public void Load_ValidManifest_ReadsFieldsAndResolvesPaths()
    {
        File.WriteAllText(Path.Combine(_dir, "saferoute.json"), Valid);
        GuardManifest manifest = GuardManifest.Load(_dir);
        Assert.That(manifest.Name, Is.EqualTo("tiny"));
        Assert.That(manifest.Verdict!.Source, Is.EqualTo(VerdictSource.LmHeadRows));
        Assert.That(manifest.Verdict.UnsafeTokenId, Is.EqualTo(39257));
        Assert.That(manifest.Resolve(manifest.Onnx), Is.EqualTo(Path.Combine(Path.GetFullPath(_dir), "model.onnx")));
        Assert.That(manifest.Inputs.InputIds, Is.EqualTo("input_ids"));
        Assert.That(manifest.HiddenStateOutput, Is.EqualTo("last_hidden_state"));
    }

    [Test]
    public void Load_MissingFolder_NamesIt()
    {
        string missing = Path.Combine(_dir, "nope");
        var ex = Assert.Throws<SafeRouteException>(() => GuardManifest.Load(missing));
        Assert.That(ex!.Message, Does.Contain(missing).And.Contain("does not exist"));
    }

    [Test]
    public void Load_MissingManifest_NamesFolderAndFile()
    {
        var ex = Assert.Throws<SafeRouteException>(() => GuardManifest.Load(_dir));
        Assert.That(ex!.Message, Does.Contain("saferoute.json").And.Contain(_dir));
    }

    [Test]
    public void Load_InvalidJson_NamesFile()
    {
        File.WriteAllText(Path.Combine(_dir, "saferoute.json"), "{ not json");
        var ex = Assert.Throws<SafeRouteException>(() => GuardManifest.Load(_dir));
        Assert.That(ex!.Message, Does.Contain("saferoute.json").And.Contain("not valid JSON"));
    }

    [Test]
    public void Load_UnknownField_IsRejected()
    {
        File.WriteAllText(Path.Combine(_dir, "saferoute.json"), Valid.Replace("\"name\"", "\"nmae\"", StringComparison.Ordinal));
        var ex = Assert.Throws<SafeRouteException>(() => GuardManifest.Load(_dir));
        Assert.That(ex!.Message, Does.Contain("nmae"));
    }

    [TestCase("\"formatVersion\": 1", "\"formatVersion\": 2", "formatVersion")]
    [TestCase("\"source\": \"lmHeadRows\"", "\"source\": \"magic\"", "verdict.source")]
    [TestCase("\"unsafeTokenId\": 39257", "\"unsafeTokenId\": 19193", "unsafeTokenId")]
    [TestCase("\"maxSequenceLength\": 4096", "\"maxSequenceLength\": 2", "maxSequenceLength")]
    [TestCase(", \"lmHeadRows\": \"rows.safetensors\"", "", "verdict.lmHeadRows")]
    public void Load_BadField_NamesFieldAndFile(string from, string to, string field)
    {
        File.WriteAllText(Path.Combine(_dir, "saferoute.json"), Valid.Replace(from, to, StringComparison.Ordinal));
        var ex = Assert.Throws<SafeRouteException>(() => GuardManifest.Load(_dir));
        Assert.That(ex!.Message, Does.Contain(field).And.Contain("saferoute.json"));
    }
}
