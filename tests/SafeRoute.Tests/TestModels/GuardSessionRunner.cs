using Microsoft.ML.OnnxRuntime;

namespace SafeRoute.Tests.TestModels;

/// <summary>A left-padded int64 batch for a guard graph.</summary>
internal sealed record GuardBatch(int Batch, int Seq, long[] InputIds, long[] AttentionMask, long[] PositionIds)
{
    /// <summary>
    /// Left-pads <paramref name="rows"/> to the longest (or <paramref name="minSeq"/>) with <paramref name="padId"/>;
    /// position ids are clamp(cumsum(mask) − 1, 0). An empty row is fully masked.
    /// </summary>
    public static GuardBatch LeftPadded(IReadOnlyList<IReadOnlyList<int>> rows, int padId = 0, int minSeq = 1)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int seq = Math.Max(minSeq, rows.Count == 0 ? 1 : rows.Max(r => r.Count));
        long[] ids = new long[rows.Count * seq];
        long[] mask = new long[rows.Count * seq];
        long[] pos = new long[rows.Count * seq];
        for (int b = 0; b < rows.Count; b++)
        {
            int pad = seq - rows[b].Count;
            for (int t = 0; t < seq; t++)
            {
                int i = (b * seq) + t;
                bool real = t >= pad;
                ids[i] = real ? rows[b][t - pad] : padId;
                mask[i] = real ? 1 : 0;
                pos[i] = real ? t - pad : 0;
            }
        }

        return new GuardBatch(rows.Count, seq, ids, mask, pos);
    }
}

/// <summary>Runs a guard graph with ORT and returns every output as (data, shape).</summary>
internal static class GuardSessionRunner
{
    public static SessionOptions CreateOptions(int threads = 1) => new()
    {
        IntraOpNumThreads = threads,
        InterOpNumThreads = 1,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    };

    public static Dictionary<string, (float[] Data, long[] Shape)> Run(InferenceSession session, GuardBatch batch, RunOptions? runOptions = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(batch);
        long[] shape = [batch.Batch, batch.Seq];
        var names = new List<string>();
        var values = new List<OrtValue>();
        try
        {
            foreach (string input in session.InputNames)
            {
                long[] data = input switch
                {
                    TinyGuardModel.InputIds => batch.InputIds,
                    TinyGuardModel.AttentionMask => batch.AttentionMask,
                    TinyGuardModel.PositionIds => batch.PositionIds,
                    _ => throw new InvalidOperationException($"Unexpected graph input '{input}'."),
                };
                names.Add(input);
                values.Add(OrtValue.CreateTensorValueFromMemory(data, shape));
            }

            using RunOptions ownOptions = new();
            using IDisposableReadOnlyCollection<OrtValue> outputs = session.Run(runOptions ?? ownOptions, names, values, session.OutputNames);
            var result = new Dictionary<string, (float[] Data, long[] Shape)>(StringComparer.Ordinal);
            for (int i = 0; i < outputs.Count; i++)
            {
                result[session.OutputNames[i]] = (outputs[i].GetTensorDataAsSpan<float>().ToArray(), outputs[i].GetTensorTypeAndShape().Shape);
            }

            return result;
        }
        finally
        {
            foreach (OrtValue value in values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>The last-axis vector at [b, t] of a [B, S, N] output.</summary>
    public static float[] At((float[] Data, long[] Shape) output, int b, int t)
    {
        int seq = (int)output.Shape[1];
        int n = (int)output.Shape[2];
        return output.Data.AsSpan(((b * seq) + t) * n, n).ToArray();
    }
}

/// <summary>A temporary folder under the system temp path, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "saferoute-test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a file may still be mapped on some platforms
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
