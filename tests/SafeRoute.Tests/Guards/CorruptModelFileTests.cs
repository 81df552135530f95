using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Onnx;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Guards;

/// <summary>
/// The corrupt-file corpus (issue 14, defect 6): each variant corrupts one file of a valid test guard folder, and
/// <see cref="OnnxSafetyGuard.Create"/> must refuse it with a <see cref="SafeRouteException"/> naming that file.
/// </summary>
[TestFixture]
public sealed class CorruptModelFileTests
{
    /// <summary>One corruption: <see cref="Apply"/> damages the folder and returns the path the message must name.</summary>
    internal sealed record Corruption(string Name, Func<TestGuard, string> Apply, string Problem)
    {
        public override string ToString() => Name;
    }

    internal static IReadOnlyList<Corruption> Corpus { get; } =
    [
        new("verdict-safe-id-beyond-vocabulary", g => EditManifest(g, m => m["verdict"]!["safeTokenId"] = g.ModelVocabSize + 100), "outside the tokenizer's vocabulary"),
        new("verdict-unsafe-id-int-max", g => EditManifest(g, m => m["verdict"]!["unsafeTokenId"] = int.MaxValue), "outside the tokenizer's vocabulary"),
        new("rows-all-zero", g => WriteRows(g, new float[2 * g.HiddenSize]), "are both all zero"),
        new("rows-equal", g => WriteRows(g, [.. g.Reference.VerdictRows.AsSpan(0, g.HiddenSize), .. g.Reference.VerdictRows.AsSpan(0, g.HiddenSize)]), "rows are equal"),
        new("rows-nan", g => WriteRows(g, [float.NaN, .. g.Reference.VerdictRows.AsSpan(1)]), "non-finite"),
        new("rows-extra-tensor-shape-overflows-64-bits", g => WriteRawRows(g, extra: "\"junk\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536,65536],\"data_offsets\":[END,END]}"), "overflows 64 bits"),
        new("rows-extra-tensor-byte-size-overflows-64-bits", g => WriteRawRows(g, extra: "\"junk\":{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[END,END]}"), "overflows 64 bits"),
        new("rows-dimension-beyond-int32", g => WriteRawRows(g, extra: "\"junk\":{\"dtype\":\"F32\",\"shape\":[4294967296,0],\"data_offsets\":[END,END]}"), "larger than SafeRoute can hold"),
        new("rows-duplicate-tensor", g => WriteRawRows(g, extra: "\"lm_head_rows\":{\"dtype\":\"F32\",\"shape\":[2,H],\"data_offsets\":[0,LEN]}"), "appears twice"),
        new("context-beyond-position-metadata", g => EditManifest(g, m => m["maxSequenceLength"] = g.Options.MaxSequenceLength * 4), "supports 256 positions (metadata 'max_position_embeddings')"),
        new("context-beyond-fixed-input-length", g => FixSequenceLength(g), "has a fixed sequence length of 256"),
        new("onnx-weights-changed-still-parse-with-sha256", g => WithHashes(g, () => PerturbOnnxWeights(g)), "does not match its SHA-256"),
        new("rows-changed-with-sha256", g => WithHashes(g, () => WriteRows(g, [.. g.Reference.VerdictRows.Select(v => v * 1.5f)])), "does not match its SHA-256"),
        new("tokenizer-changed-with-sha256", g => WithHashes(g, () => AppendByte(g.TokenizerPath)), "does not match its SHA-256"),
        new("sha256-file-missing", g => EditManifest(g, m => m["sha256"] = new JsonObject { ["model.onnx.data"] = new string('0', 64) }, named: Path.Combine(g.Directory, "model.onnx.data")), "could not be read"),
        new("sha256-not-hex", g => EditManifest(g, m => m["sha256"] = new JsonObject { ["model.onnx"] = "not-a-digest" }), "must be 64 hex digits"),
    ];

    private static IEnumerable<string> Names() => Corpus.Select(c => c.Name);

    [TestCaseSource(nameof(Names))]
    public void Create_RefusesCorruptFile_NamingIt(string name)
    {
        Corruption corruption = Corpus.Single(c => c.Name == name);
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Sub("guard"), TestGuardOptions.Small);
        string file = corruption.Apply(guard);
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(guard.Directory).Dispose());
        Assert.That(ex!.Message, Does.Contain(file).And.Contain(corruption.Problem));
    }

    [Test]
    public void Corpus_NoCorruptVariantLoads()
    {
        using var temp = new TempDirectory();
        using (OnnxSafetyGuard.Create(TestGuardFactory.Create(temp.Sub("valid"), TestGuardOptions.Small).Directory))
        {
            // the undamaged folder loads
        }

        var loaded = new List<string>();
        for (int i = 0; i < Corpus.Count; i++)
        {
            TestGuard guard = TestGuardFactory.Create(temp.Sub($"v{i}"), TestGuardOptions.Small);
            _ = Corpus[i].Apply(guard);
            try
            {
                OnnxSafetyGuard.Create(guard.Directory).Dispose();
                loaded.Add(Corpus[i].Name);
            }
            catch (SafeRouteException)
            {
            }
        }

        TestContext.Out.WriteLine($"{Corpus.Count} corrupt variants, {loaded.Count} loaded");
        Assert.That(loaded, Is.Empty);
    }

    [Test]
    public void ValidFolder_WithCorrectHashes_Loads()
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Sub("guard"), TestGuardOptions.Small);
        WithHashes(guard, () => guard.ManifestPath);
        using var loaded = OnnxSafetyGuard.Create(guard.Directory);
        Assert.That(loaded.MaxSequenceLength, Is.EqualTo(guard.Options.MaxSequenceLength));
    }

    [Test]
    public void ChangedOnnxWeights_WithoutHashes_StillLoad_ShaIsTheDefence()
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Sub("guard"), TestGuardOptions.Small);
        PerturbOnnxWeights(guard);
        Assert.DoesNotThrow(() => OnnxSafetyGuard.Create(guard.Directory).Dispose());
    }

    [Test]
    public void ContextOverride_BeyondPositionMetadata_NamesTheOption()
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Sub("guard"), TestGuardOptions.Small);
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(guard.Directory, new GuardModelOptions { MaxSequenceLength = 1024 }).Dispose());
        Assert.That(ex!.Message, Does.Contain(guard.OnnxPath).And.Contain("GuardModelOptions.MaxSequenceLength is 1024"));
    }

    [Test]
    public void GraphWithoutPositions_IsNotContextChecked()
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Sub("guard"), TestGuardOptions.Small with { WithPositionIds = false });
        using var loaded = OnnxSafetyGuard.Create(guard.Directory, new GuardModelOptions { MaxSequenceLength = 4096 });
        Assert.That(loaded.MaxSequenceLength, Is.EqualTo(4096));
    }

    // Safetensors reader, crafted headers.
    [TestCase("[65536,65536,65536,65536]", "[0,0]", "F32", "overflows 64 bits")]
    [TestCase("[4294967296,4294967296]", "[0,0]", "F32", "larger than SafeRoute can hold")]
    [TestCase("[2147483647,2147483647,2147483647]", "[0,0]", "F32", "overflows 64 bits")]
    [TestCase("[1073741824,1073741824,16]", "[0,0]", "F64", "overflows 64 bits")]
    [TestCase("[1073741824,1073741824]", "[0,0]", "F64", "more than SafeRoute can hold")]
    [TestCase("[18446744073709551615]", "[0,0]", "F32", "not a non-negative integer")]
    [TestCase("[-1]", "[0,0]", "F32", "not a non-negative integer")]
    [TestCase("[2]", "[0,8,16]", "F32", "3 data offsets")]
    [TestCase("[2]", "[9223372036854775800,9223372036854775807]", "F32", "do not match")]
    public void Safetensors_CraftedHeader_IsRejected(string shape, string offsets, string dtype, string problem)
    {
        byte[] file = RawSafetensors($"{{\"t\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}}}", new byte[8]);
        var ex = Assert.Throws<SafeRouteException>(() => Safetensors.Parse(file, "crafted.safetensors"));
        Assert.That(ex!.Message, Does.Contain("crafted.safetensors").And.Contain(problem));
    }

    [Test]
    public void Safetensors_HeaderLengthBeyondLong_IsRejected()
    {
        byte[] file = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(file, ulong.MaxValue);
        var ex = Assert.Throws<SafeRouteException>(() => Safetensors.Parse(file, "crafted.safetensors"));
        Assert.That(ex!.Message, Does.Contain("crafted.safetensors").And.Contain("header length"));
    }

    [TestCase("\"junk\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536,65536],\"data_offsets\":[END,END]}", "overflows 64 bits")]
    [TestCase("\"junk\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[END,END]}", "overflows 64 bits")]
    [TestCase("\"cls.6.bias_mu\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", "appears twice")]
    public void RouterFile_WithCraftedTensor_IsRejected(string extra, string problem)
    {
        using var temp = new TempDirectory();
        string valid = RouterFiles.Write(temp.Sub("valid.safetensors"), inputSize: 4);
        string path = temp.Sub("router.safetensors");
        File.WriteAllBytes(path, AddToHeader(File.ReadAllBytes(valid), extra, rowsHidden: 0));
        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));
        Assert.That(ex!.Message, Does.Contain(path).And.Contain(problem));
        using var stream = File.OpenRead(path);
        ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(stream, "router-stream"));
        Assert.That(ex!.Message, Does.Contain("router-stream").And.Contain(problem));
    }

    private static string EditManifest(TestGuard guard, Action<JsonObject> edit, string? named = null)
    {
        JsonObject root = JsonNode.Parse(File.ReadAllText(guard.ManifestPath))!.AsObject();
        edit(root);
        File.WriteAllText(guard.ManifestPath, root.ToJsonString(), new UTF8Encoding(false));
        return named ?? guard.ManifestPath;
    }

    private static string WriteRows(TestGuard guard, float[] rows)
    {
        Safetensors.Write(guard.RowsPath, [(TestGuard.RowsTensorName, new[] { 2, guard.HiddenSize }, rows)]);
        return guard.RowsPath;
    }

    /// <summary>Adds a raw entry to the rows file's header (END: the data length, LEN: 8·H, H: the hidden size).</summary>
    private static string WriteRawRows(TestGuard guard, string extra)
    {
        File.WriteAllBytes(guard.RowsPath, AddToHeader(File.ReadAllBytes(guard.RowsPath), extra, guard.HiddenSize));
        return guard.RowsPath;
    }

    /// <summary>Re-writes a safetensors file with <paramref name="extra"/> appended to its header object.</summary>
    private static byte[] AddToHeader(byte[] file, string extra, int rowsHidden)
    {
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        string header = Encoding.UTF8.GetString(file, 8, headerLength).TrimEnd();
        byte[] data = file[(8 + headerLength)..];
        extra = extra.Replace("END", data.Length.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                     .Replace("LEN", (rowsHidden * 8).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                     .Replace("[2,H]", $"[2,{rowsHidden}]", StringComparison.Ordinal);
        return RawSafetensors(header[..^1] + "," + extra + "}", data);
    }

    private static byte[] RawSafetensors(string header, byte[] data)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        byte[] file = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)h.Length);
        h.CopyTo(file, 8);
        data.CopyTo(file, 8 + h.Length);
        return file;
    }

    /// <summary>Makes every input's sequence axis a fixed 256, drops the position metadata and doubles maxSequenceLength.</summary>
    private static string FixSequenceLength(TestGuard guard)
    {
        ModelProto model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(guard.OnnxPath));
        model.MetadataProps.Clear();
        foreach (ValueInfoProto input in model.Graph.Input)
        {
            TensorShapeProto.Types.Dimension seq = input.Type.TensorType.Shape.Dim[1];
            seq.DimValue = guard.Options.MaxSequenceLength;
        }

        File.WriteAllBytes(guard.OnnxPath, model.ToByteArray());
        EditManifest(guard, m => m["maxSequenceLength"] = guard.Options.MaxSequenceLength * 2);
        return guard.OnnxPath;
    }

    /// <summary>Changes a few embedding weights: the file still parses and loads, only its numbers differ.</summary>
    private static string PerturbOnnxWeights(TestGuard guard)
    {
        ModelProto model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(guard.OnnxPath));
        TensorProto embedding = model.Graph.Initializer.Single(t => t.Name == "E");
        if (embedding.RawData.IsEmpty)
        {
            for (int i = 0; i < 16; i++)
            {
                embedding.FloatData[i] += 0.25f;
            }
        }
        else
        {
            byte[] raw = embedding.RawData.ToByteArray();
            for (int i = 0; i < 16; i++)
            {
                float value = BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(i * 4));
                BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), value + 0.25f);
            }

            embedding.RawData = ByteString.CopyFrom(raw);
        }

        File.WriteAllBytes(guard.OnnxPath, model.ToByteArray());
        return guard.OnnxPath;
    }

    private static string AppendByte(string path)
    {
        File.AppendAllText(path, "\n");
        return path;
    }

    /// <summary>Writes the sha256 of every file of the folder into its manifest, then runs <paramref name="damage"/>.</summary>
    private static string WithHashes(TestGuard guard, Func<string> damage)
    {
        var hashes = new JsonObject();
        foreach (string file in new[] { TestGuard.OnnxFileName, TestGuard.TokenizerFileName, TestGuard.RowsFileName })
        {
            hashes[file] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(guard.Directory, file)))).ToLowerInvariant();
        }

        EditManifest(guard, m => m["sha256"] = hashes);
        return damage();
    }
}
