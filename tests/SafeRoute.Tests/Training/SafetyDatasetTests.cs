using System.Text;
using SafeRoute.Training;

namespace SafeRoute.Tests.Training;

[TestFixture]
public sealed class SafetyDatasetTests
{
    // Synthetic, harmless rows: the real data sets are never printed or embedded in tests.
    private const string Good1 = """{"id":"t-1","source":"unit","prompt":"what is the weather","response":null,"label":0,"category":null}""";
    private const string Good2 = """{"id":"t-2","source":"unit","prompt":"a question","response":"an answer","label":1,"category":"cat"}""";
    private const string SecretPrompt = "zebra-secret-text";

    private static List<SafetyExample> Parse(string text) => [.. SafetyDataset.Read(new StringReader(text), "data.jsonl")];

    [Test]
    public void Read_ValidRows_ParsesEveryFieldAndSkipsBlankLines()
    {
        List<SafetyExample> rows = Parse(Good1 + "\n\n   \n" + Good2 + "\r\n");

        Assert.That(rows, Has.Count.EqualTo(2));
        Assert.Multiple(() =>
        {
            Assert.That(rows[0].Id, Is.EqualTo("t-1"));
            Assert.That(rows[0].Response, Is.Null);
            Assert.That(rows[0].Label, Is.Zero);
            Assert.That(rows[0].Category, Is.Null);
            Assert.That(rows[0].LineNumber, Is.EqualTo(1));
            Assert.That(rows[1].Source, Is.EqualTo("unit"));
            Assert.That(rows[1].Response, Is.EqualTo("an answer"));
            Assert.That(rows[1].IsUnsafe, Is.True);
            Assert.That(rows[1].Category, Is.EqualTo("cat"));
            Assert.That(rows[1].LineNumber, Is.EqualTo(4));
            Assert.That(rows[1].ToString(), Does.Not.Contain("a question"));
        });
    }

    [Test]
    public void Read_File_StreamsRowsAndNamesTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "saferoute-ds-" + Guid.NewGuid().ToString("N") + ".jsonl");
        try
        {
            File.WriteAllText(path, Good1 + "\n" + """{"id":"t-3","prompt":"x","label":3}""" + "\n");
            IEnumerator<SafetyExample> rows = SafetyDataset.Read(path).GetEnumerator();
            Assert.That(rows.MoveNext(), Is.True);
            DatasetFormatException ex = Assert.Throws<DatasetFormatException>(() => rows.MoveNext())!;
            Assert.That(ex.Message, Does.StartWith(path + ":2:"));
            rows.Dispose();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestCase("{\"id\":\"a\",\"prompt\":\"" + SecretPrompt + "\",\"label\":0", null, "not valid JSON", TestName = "Read_TruncatedJson_Rejected")]
    [TestCase("[1,2]", null, "expected a JSON object", TestName = "Read_NotAnObject_Rejected")]
    [TestCase("{\"prompt\":\"" + SecretPrompt + "\",\"label\":0}", "id", "missing", TestName = "Read_MissingId_Rejected")]
    [TestCase("{\"id\":\"\",\"prompt\":\"" + SecretPrompt + "\",\"label\":0}", "id", "empty", TestName = "Read_EmptyId_Rejected")]
    [TestCase("{\"id\":7,\"prompt\":\"" + SecretPrompt + "\",\"label\":0}", "id", "expected a string, found a number", TestName = "Read_NumericId_Rejected")]
    [TestCase("{\"id\":\"a\",\"label\":0}", "prompt", "missing", TestName = "Read_MissingPrompt_Rejected")]
    [TestCase("{\"id\":\"a\",\"prompt\":\"  \",\"label\":0}", "prompt", "empty", TestName = "Read_BlankPrompt_Rejected")]
    [TestCase("{\"id\":\"a\",\"prompt\":\"" + SecretPrompt + "\"}", "label", "missing", TestName = "Read_MissingLabel_Rejected")]
    [TestCase("{\"id\":\"a\",\"prompt\":\"" + SecretPrompt + "\",\"label\":2}", "label", "expected 0 or 1, found 2", TestName = "Read_LabelTwo_Rejected")]
    [TestCase("{\"id\":\"a\",\"prompt\":\"" + SecretPrompt + "\",\"label\":0.5}", "label", "expected 0 or 1", TestName = "Read_FractionalLabel_Rejected")]
    [TestCase("{\"id\":\"a\",\"prompt\":\"" + SecretPrompt + "\",\"label\":\"1\"}", "label", "found a string", TestName = "Read_StringLabel_Rejected")]
    [TestCase("{\"id\":\"a\",\"prompt\":\"" + SecretPrompt + "\",\"label\":true}", "label", "found a boolean", TestName = "Read_BooleanLabel_Rejected")]
    [TestCase("{\"id\":\"a\",\"prompt\":\"" + SecretPrompt + "\",\"response\":5,\"label\":1}", "response", "expected a string or null", TestName = "Read_NumericResponse_Rejected")]
    [TestCase("{\"id\":\"a\",\"prompt\":\"" + SecretPrompt + "\",\"category\":[],\"label\":1}", "category", "found an array", TestName = "Read_ArrayCategory_Rejected")]
    public void Read_MalformedRow_NamesFileLineAndField(string badLine, string? field, string problem)
    {
        // The bad row is on line 3, after a good row and a blank line.
        DatasetFormatException ex = Assert.Throws<DatasetFormatException>(() => Parse(Good1 + "\n\n" + badLine + "\n" + Good2))!;

        Assert.Multiple(() =>
        {
            Assert.That(ex.LineNumber, Is.EqualTo(3));
            Assert.That(ex.Field, Is.EqualTo(field));
            Assert.That(ex.Path, Is.EqualTo("data.jsonl"));
            Assert.That(ex.Message, Does.StartWith(field is null ? "data.jsonl:3: " : $"data.jsonl:3: field '{field}': "));
            Assert.That(ex.Message, Does.Contain(problem));
            Assert.That(ex.Message, Does.Not.Contain(SecretPrompt), "row text must never reach an error message");
        });
    }

    [Test]
    public void Read_DuplicateId_NamesBothLines()
    {
        DatasetFormatException ex = Assert.Throws<DatasetFormatException>(() => Parse(Good1 + "\n" + Good2 + "\n\n" + Good1))!;

        Assert.That(ex.LineNumber, Is.EqualTo(4));
        Assert.That(ex.Field, Is.EqualTo("id"));
        Assert.That(ex.Message, Does.Contain("duplicate id 't-1'").And.Contain("line 1"));
    }

    [Test]
    public void Read_DuplicateIds_ErrorCountsEveryRepeat_AfterReadingAll()
    {
        string file = WriteTemp(Good1, Good2, Good1, Good2, Good1);
        try
        {
            DatasetFormatException ex = Assert.Throws<DatasetFormatException>(() => _ = SafetyDataset.Read(file, DuplicateIdHandling.Error).ToList())!;
            Assert.Multiple(() =>
            {
                Assert.That(ex.LineNumber, Is.EqualTo(3), "the first repeat");
                Assert.That(ex.Message, Does.Contain("duplicate id 't-1'").And.Contain("3 row(s) in all"));
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void Read_DuplicateIds_SkipKeepsTheFirst_RenameKeepsAllUnderNewIds()
    {
        string file = WriteTemp(Good1, Good2, Good1, Good1);
        try
        {
            List<SafetyExample> skipped = [.. SafetyDataset.Read(file, DuplicateIdHandling.Skip)];
            List<SafetyExample> renamed = [.. SafetyDataset.Read(file, DuplicateIdHandling.Rename)];
            Assert.Multiple(() =>
            {
                Assert.That(skipped.Select(r => (r.Id, r.LineNumber)), Is.EqualTo(new[] { ("t-1", 1), ("t-2", 2) }));
                Assert.That(renamed.Select(r => r.Id), Is.EqualTo(new[] { "t-1", "t-2", "t-1~2", "t-1~3" }));
                Assert.That(renamed[3].Prompt, Is.EqualTo(renamed[0].Prompt));
                Assert.That(renamed[3].LineNumber, Is.EqualTo(4));
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void ReadAll_IdsRepeatedAcrossFiles_FollowThePolicy()
    {
        string a = WriteTemp(Good1, Good2);
        string b = WriteTemp(Good2, Good1.Replace("t-1", "t-3", StringComparison.Ordinal));
        try
        {
            DatasetFormatException ex = Assert.Throws<DatasetFormatException>(() => SafetyDataset.ReadAll([a, b], DuplicateIdHandling.Error))!;
            Assert.Multiple(() =>
            {
                Assert.That(ex.Path, Is.EqualTo(b));
                Assert.That(ex.Message, Does.Contain("duplicate id 't-2'").And.Contain("1 row(s) in all"));
                Assert.That(SafetyDataset.ReadAll([a, b], DuplicateIdHandling.Skip).Select(r => r.Id), Is.EqualTo(new[] { "t-1", "t-2", "t-3" }));
                Assert.That(SafetyDataset.ReadAll([a, b], DuplicateIdHandling.Rename).Select(r => r.Id), Is.EqualTo(new[] { "t-1", "t-2", "t-2~2", "t-3" }));
            });
        }
        finally
        {
            File.Delete(a);
            File.Delete(b);
        }
    }

    private static string WriteTemp(params string[] lines)
    {
        string path = Path.Combine(Path.GetTempPath(), $"saferoute-dup-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Test]
    public void Read_ArgValidation()
    {
        Assert.Throws<ArgumentNullException>(() => SafetyDataset.Read(null!, "x"));
        Assert.Throws<ArgumentNullException>(() => SafetyDataset.Read(new StringReader(""), null!));
        Assert.Throws<ArgumentException>(() => SafetyDataset.Read(""));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new SafetyExample("a", "b", null, 2));
    }

    [Test]
    public void Write_then_Read_round_trips_every_field_one_line_per_row()
    {
        SafetyExample[] rows =
        [
            new("w-1", "line one\nline \"two\" \u00e9\u6f22 <|eot_id|>", null, 0) { Source = "unit" },
            new("w-2", "a question", "an answer\twith a tab", 1) { Source = "unit", Category = "cat" },
        ];
        using var stream = new MemoryStream();
        foreach (SafetyExample row in rows)
        {
            SafetyDataset.Write(stream, row);
        }

        string text = Encoding.UTF8.GetString(stream.ToArray());
        List<SafetyExample> back = Parse(text);

        Assert.Multiple(() =>
        {
            Assert.That(text.Split('\n'), Has.Length.EqualTo(3), "one line per row, each ending in a newline");
            Assert.That(text[^1], Is.EqualTo('\n'));
            Assert.That(back, Has.Count.EqualTo(2));
            for (int i = 0; i < rows.Length; i++)
            {
                Assert.That(back[i] with { LineNumber = 0 }, Is.EqualTo(rows[i]), $"row {i}");
            }
        });
    }
}
