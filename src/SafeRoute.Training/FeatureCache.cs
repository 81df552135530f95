using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using SafeRoute.Onnx;

namespace SafeRoute.Training;

/// <summary>
/// A resumable on-disk cache of both guards' outputs per labelled row: the small guard's last-token features and two
/// verdict logits, and the large guard's two verdict logits, so that training, calibration and evaluation never run a
/// model twice on the same row.
/// </summary>
/// <remarks>
/// <para>
/// File format (little-endian). Header: magic <c>SRFC</c>, version (u16) and a reserved u16, the hidden size H (i32),
/// the header length in bytes (i32), then for the small and then the large guard its identity (folder name as a
/// u16-length-prefixed UTF-8 string, SHA-256 of the ONNX file, SHA-256 of <c>saferoute.json</c>, 32 bytes each), then
/// the first 8 bytes of the SHA-256 of everything before. Records follow, fixed-size (44 + 4H bytes): the first 16 bytes
/// of SHA-256(UTF-8 row id) as the key, the label (u8), flags (u8: bit 0 small input truncated, bit 1 large input
/// truncated), a reserved u16, small safe/unsafe logits and large safe/unsafe logits (f32), H features (f32), and the
/// first 8 bytes of the SHA-256 of the record's preceding bytes as a checksum.
/// </para>
/// <para>
/// Rows are appended a batch at a time and flushed to disk after each batch. Reopening skips rows already cached.
/// A torn last record (a crash during a write) is detected by its length or checksum and dropped; a bad record
/// anywhere else means the file is corrupt and opening fails. Cancellation stops between batches: a batch is written
/// whole or not at all, so the file is always consistent, and resuming writes the same bytes an uninterrupted run would.
/// </para>
/// <para>Not safe for concurrent use. One writer per file; the file is opened with <see cref="FileShare.Read"/>.</para>
/// </remarks>
public sealed class FeatureCache : IDisposable
{
    private const uint Magic = 0x43465253; // "SRFC" little-endian
    private const ushort Version = 1;
    private const int KeyBytes = 16;
    private const int ChecksumBytes = 8;
    private const int FixedRecordBytes = KeyBytes + 4 + 16 + ChecksumBytes;

    private readonly FileStream _stream;
    private readonly OnnxSafetyGuard? _small;
    private readonly ISafetyGuard? _large;
    private readonly Dictionary<UInt128, long> _index = [];
    private readonly long _headerLength;
    private readonly int _recordBytes;
    private bool _disposed;

    private FeatureCache(string path, FileStream stream, OnnxSafetyGuard? small, ISafetyGuard? large, GuardModelIdentity smallId, GuardModelIdentity largeId, int hiddenSize, long headerLength)
    {
        Path = path;
        _stream = stream;
        _small = small;
        _large = large;
        SmallModel = smallId;
        LargeModel = largeId;
        HiddenSize = hiddenSize;
        _headerLength = headerLength;
        _recordBytes = FixedRecordBytes + (4 * hiddenSize);
    }

    /// <summary>Gets the cache file's full path.</summary>
    public string Path { get; }

    /// <summary>Gets the identity of the small guard the cache belongs to.</summary>
    public GuardModelIdentity SmallModel { get; }

    /// <summary>Gets the identity of the large guard the cache belongs to.</summary>
    public GuardModelIdentity LargeModel { get; }

    /// <summary>Gets the small guard's hidden size (features per row).</summary>
    public int HiddenSize { get; }

    /// <summary>Gets the number of rows in the cache.</summary>
    public int Count => _index.Count;

    /// <summary>Gets a value indicating whether opening dropped a torn last record (left by a crash during a write).</summary>
    public bool RecoveredTornRecord { get; private set; }

    /// <summary>
    /// Opens a cache for writing, creating it when the file is missing or empty, and resuming it otherwise.
    /// </summary>
    /// <param name="path">The cache file.</param>
    /// <param name="small">The small guard; it must expose a hidden state. Not disposed by the cache.</param>
    /// <param name="large">The large guard. Not disposed by the cache.</param>
    /// <returns>The open cache. Dispose it to close the file.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException">A guard is null.</exception>
    /// <exception cref="SafeRouteException">
    /// The small guard exposes no hidden state, the file was built with other models (identity mismatch) or another
    /// hidden size, or the file is corrupt.
    /// </exception>
    public static FeatureCache Open(string path, OnnxSafetyGuard small, OnnxSafetyGuard large)
    {
        ArgumentNullException.ThrowIfNull(large);
        return Open(path, small, large, GuardModelIdentity.FromModelDirectory(large.ModelDirectory));
    }

    /// <summary>
    /// Opens a cache for writing with a large guard of any kind, such as a model served remotely (<c>SafeRoute.Remote</c>)
    /// or a guard of another family than the small one, creating the file when it is missing or empty and resuming it otherwise.
    /// </summary>
    /// <param name="path">The cache file.</param>
    /// <param name="small">The small guard; it must expose a hidden state. Not disposed by the cache.</param>
    /// <param name="large">The large guard. An <see cref="OnnxSafetyGuard"/> gives its two verdict logits as they are; any other
    /// guard gives <see cref="SafetyVerdict.UnsafeProbability"/>, stored as the logits (0, logit(p)) with p clamped to
    /// [1e-7, 1 − 1e-7], which read back as p to float precision. Not disposed by the cache.</param>
    /// <param name="largeIdentity">What the file records as the large guard (for a served model,
    /// <see cref="GuardModelIdentity.FromDescription"/>); reopening with another identity fails.</param>
    /// <returns>The open cache. Dispose it to close the file.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException">A guard or the identity is null.</exception>
    /// <exception cref="SafeRouteException">
    /// The small guard exposes no hidden state, the file was built with other models (identity mismatch) or another
    /// hidden size, or the file is corrupt.
    /// </exception>
    /// <remarks>A batch the large guard answers with a degraded verdict (<see cref="SafetyVerdict.IsDegraded"/>), a verdict
    /// of another guard's tier that stands in for it, or fails on, is not written: <see cref="Add"/> throws and the rows
    /// before it stay in the file, so a later run resumes there.</remarks>
    public static FeatureCache Open(string path, OnnxSafetyGuard small, ISafetyGuard large, GuardModelIdentity largeIdentity)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(small);
        ArgumentNullException.ThrowIfNull(large);
        ArgumentNullException.ThrowIfNull(largeIdentity);
        if (small.FeatureSize is not { } hidden)
        {
            throw new SafeRouteException($"The small guard '{small.Name}' exposes no hidden state ('hiddenStateOutput'), so it cannot feed a router cache.");
        }

        GuardModelIdentity smallId = GuardModelIdentity.FromModelDirectory(small.ModelDirectory);
        GuardModelIdentity largeId = largeIdentity;
        string full = System.IO.Path.GetFullPath(path);
        var stream = new FileStream(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1 << 16);
        try
        {
            FeatureCache cache;
            if (stream.Length == 0)
            {
                byte[] header = BuildHeader(smallId, largeId, hidden);
                stream.Write(header);
                stream.Flush(flushToDisk: true);
                cache = new FeatureCache(full, stream, small, large, smallId, largeId, hidden, header.Length);
            }
            else
            {
                (GuardModelIdentity fileSmall, GuardModelIdentity fileLarge, int fileHidden, int headerLength) = ReadHeader(stream, full);
                if (!fileSmall.Equals(smallId) || !fileLarge.Equals(largeId))
                {
                    throw new SafeRouteException(
                        $"The feature cache '{full}' was built with other models: small {fileSmall}, large {fileLarge}; " +
                        $"this run has small {smallId}, large {largeId}. Use another cache file or delete this one.");
                }

                if (fileHidden != hidden)
                {
                    throw new SafeRouteException(string.Create(CultureInfo.InvariantCulture, $"The feature cache '{full}' holds {fileHidden} features per row but the small guard '{small.Name}' has hidden size {hidden}."));
                }

                cache = new FeatureCache(full, stream, small, large, smallId, largeId, hidden, headerLength);
                cache.ScanRecords(repair: true);
            }

            stream.Seek(0, SeekOrigin.End);
            return cache;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Opens an existing cache for reading only (no models needed).</summary>
    /// <param name="path">The cache file.</param>
    /// <returns>The open cache; <see cref="Add"/> is not available on it.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="SafeRouteException">The file is corrupt. A torn last record is ignored (and left in place).</exception>
    public static FeatureCache OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        try
        {
            (GuardModelIdentity small, GuardModelIdentity large, int hidden, int headerLength) = ReadHeader(stream, full);
            var cache = new FeatureCache(full, stream, null, null, small, large, hidden, headerLength);
            cache.ScanRecords(repair: false);
            return cache;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Returns whether a row is cached.</summary>
    /// <param name="id">The row id.</param>
    /// <returns><see langword="true"/> when the cache holds the row.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="id"/> is null.</exception>
    public bool Contains(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _index.ContainsKey(Key(id));
    }

    /// <summary>
    /// Runs both guards on every row not yet cached and appends the results, <paramref name="batchSize"/> rows at a time,
    /// flushing to disk after each batch. Rows already cached (by id) are skipped, so a second call computes nothing.
    /// </summary>
    /// <param name="examples">The rows, in the order to process them.</param>
    /// <param name="batchSize">Rows per guard run and per write.</param>
    /// <param name="progress">Told after each batch; called on the calling thread.</param>
    /// <param name="cancellationToken">Stops the work between (or inside) model runs; written batches stay.</param>
    /// <returns>The number of rows added.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="examples"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is less than 1.</exception>
    /// <exception cref="InvalidOperationException">The cache was opened with <see cref="OpenRead"/>.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; every batch before it is in the file.</exception>
    /// <exception cref="SafeRouteException">A guard failed to run.</exception>
    public int Add(IEnumerable<SafetyExample> examples, int batchSize = 32, IProgress<FeatureCacheProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_small is null || _large is null)
        {
            throw new InvalidOperationException("This feature cache was opened read-only; open it with FeatureCache.Open(path, small, large) to add rows.");
        }

        int? total = examples is IReadOnlyCollection<SafetyExample> c ? c.Count : null;
        int added = 0;
        int skipped = 0;
        var pending = new List<SafetyExample>(batchSize);
        var pendingKeys = new HashSet<UInt128>();
        foreach (SafetyExample example in examples)
        {
            ArgumentNullException.ThrowIfNull(example, nameof(examples));
            UInt128 key = Key(example.Id);
            if (_index.ContainsKey(key) || !pendingKeys.Add(key))
            {
                skipped++;
                continue;
            }

            pending.Add(example);
            if (pending.Count == batchSize)
            {
                added += WriteBatch(pending, cancellationToken);
                pending.Clear();
                pendingKeys.Clear();
                progress?.Report(new FeatureCacheProgress(added, skipped, total, Count));
            }
        }

        if (pending.Count > 0)
        {
            added += WriteBatch(pending, cancellationToken);
            progress?.Report(new FeatureCacheProgress(added, skipped, total, Count));
        }

        return added;
    }

    /// <summary>Reads the cached outputs of the given rows, in the given order, into memory.</summary>
    /// <param name="examples">The rows (their ids and labels).</param>
    /// <returns>The rows' features, logits, labels and hard labels.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="examples"/> is null.</exception>
    /// <exception cref="SafeRouteException">A row is not cached, or was cached with another label.</exception>
    public FeatureSet Load(IEnumerable<SafetyExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ObjectDisposedException.ThrowIf(_disposed, this);
        List<SafetyExample> rows = [.. examples];
        int n = rows.Count;
        int h = HiddenSize;
        float[] features = new float[n * h];
        float[] ss = new float[n], su = new float[n], ls = new float[n], lu = new float[n];
        int[] labels = new int[n];
        string[] ids = new string[n];
        var missing = new List<string>();
        byte[] record = new byte[_recordBytes];
        SafeFileHandle handle = _stream.SafeFileHandle;
        for (int i = 0; i < n; i++)
        {
            SafetyExample example = rows[i];
            ids[i] = example.Id;
            labels[i] = example.Label;
            if (!_index.TryGetValue(Key(example.Id), out long offset))
            {
                missing.Add(example.Id);
                continue;
            }

            ReadExactly(handle, record, offset);
            int label = record[KeyBytes];
            if (label != example.Label)
            {
                throw new SafeRouteException(string.Create(CultureInfo.InvariantCulture, $"Row '{example.Id}' is cached in '{Path}' with label {label} but the data set says {example.Label}. Rebuild the cache for this data set."));
            }

            ReadOnlySpan<byte> body = record.AsSpan(KeyBytes + 4);
            ss[i] = BinaryPrimitives.ReadSingleLittleEndian(body);
            su[i] = BinaryPrimitives.ReadSingleLittleEndian(body[4..]);
            ls[i] = BinaryPrimitives.ReadSingleLittleEndian(body[8..]);
            lu[i] = BinaryPrimitives.ReadSingleLittleEndian(body[12..]);
            ReadOnlySpan<byte> f = body.Slice(16, 4 * h);
            Span<float> target = features.AsSpan(i * h, h);
            for (int j = 0; j < h; j++)
            {
                target[j] = BinaryPrimitives.ReadSingleLittleEndian(f[(4 * j)..]);
            }
        }

        if (missing.Count > 0)
        {
            throw new SafeRouteException(string.Create(CultureInfo.InvariantCulture, $"{missing.Count} of {n} rows are not in the feature cache '{Path}' (first: {string.Join(", ", missing.Take(5))}). Run the cache step on this data set first."));
        }

        return FeatureSet.Create(h, features, ss, su, ls, lu, labels, ids);
    }

    /// <summary>Closes the file. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stream.Dispose();
    }

    /// <summary>The large guard's two logits per row: an ONNX guard's own, any other guard's verdict probability as (0, logit(p)).</summary>
    private IReadOnlyList<GuardScore> ScoreLarge(SafetyRequest[] requests, CancellationToken cancellationToken)
    {
        if (_large is OnnxSafetyGuard onnx)
        {
            return onnx.ScoreBatchAsync(requests, includeFeatures: false, cancellationToken).AsTask().GetAwaiter().GetResult();
        }

        // Another kind of guard (a served model): its verdicts, awaited here; the CLI and tests call Add without a
        // synchronization context, so blocking cannot deadlock.
        IReadOnlyList<SafetyVerdict> verdicts = _large!.EvaluateBatchAsync(requests, cancellationToken).AsTask().GetAwaiter().GetResult();
        if (verdicts is null || verdicts.Count != requests.Length)
        {
            throw new SafeRouteException(string.Create(CultureInfo.InvariantCulture, $"The large guard answered {verdicts?.Count ?? 0} verdicts for {requests.Length} rows; nothing of this batch was written to '{Path}'."));
        }

        var scores = new GuardScore[requests.Length];
        for (int i = 0; i < scores.Length; i++)
        {
            SafetyVerdict v = verdicts[i] ?? throw new SafeRouteException($"The large guard answered a null verdict; nothing of this batch was written to '{Path}'.");
            if (v.IsDegraded || v.DecidedBy != GuardTier.Large || !float.IsFinite(v.UnsafeProbability) || v.UnsafeProbability is < 0f or > 1f)
            {
                throw new SafeRouteException(string.Create(CultureInfo.InvariantCulture,
                    $"The large guard's verdict for a row is not a large-guard verdict (degraded {v.IsDegraded}, decided by {v.DecidedBy}, p {v.UnsafeProbability}); a router cache holds real large-guard verdicts only, so nothing of this batch was written to '{Path}'."));
            }

            double p = Math.Clamp(v.UnsafeProbability, 1e-7, 1 - 1e-7);
            scores[i] = new GuardScore(0f, (float)Math.Log(p / (1 - p)), wasTruncated: v.WasTruncated);
        }

        return scores;
    }

    private int WriteBatch(List<SafetyExample> batch, CancellationToken cancellationToken)
    {
        var requests = new SafetyRequest[batch.Count];
        for (int i = 0; i < requests.Length; i++)
        {
            requests[i] = batch[i].ToRequest();
        }

        // The ONNX guards score a batch synchronously on the calling thread; the tasks are complete when they return.
        IReadOnlyList<GuardScore> small = _small!.ScoreBatchAsync(requests, includeFeatures: true, cancellationToken).AsTask().GetAwaiter().GetResult();
        IReadOnlyList<GuardScore> large = ScoreLarge(requests, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();

        // From here on nothing observes the token: the batch is written whole.
        byte[] buffer = new byte[_recordBytes * batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            ReadOnlySpan<float> features = small[i].Features.Span;
            if (features.Length != HiddenSize)
            {
                throw new SafeRouteException(string.Create(CultureInfo.InvariantCulture, $"The small guard returned {features.Length} features; the cache '{Path}' holds {HiddenSize}."));
            }

            Span<byte> r = buffer.AsSpan(i * _recordBytes, _recordBytes);
            WriteKey(batch[i].Id, r[..KeyBytes]);
            r[KeyBytes] = (byte)batch[i].Label;
            r[KeyBytes + 1] = (byte)((small[i].WasTruncated ? 1 : 0) | (large[i].WasTruncated ? 2 : 0));
            Span<byte> body = r[(KeyBytes + 4)..];
            BinaryPrimitives.WriteSingleLittleEndian(body, small[i].SafeLogit);
            BinaryPrimitives.WriteSingleLittleEndian(body[4..], small[i].UnsafeLogit);
            BinaryPrimitives.WriteSingleLittleEndian(body[8..], large[i].SafeLogit);
            BinaryPrimitives.WriteSingleLittleEndian(body[12..], large[i].UnsafeLogit);
            for (int j = 0; j < features.Length; j++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(body[(16 + (4 * j))..], features[j]);
            }

            Checksum(r[..^ChecksumBytes], r[^ChecksumBytes..]);
        }

        long start = _stream.Seek(0, SeekOrigin.End);
        _stream.Write(buffer);
        _stream.Flush(flushToDisk: true);
        for (int i = 0; i < batch.Count; i++)
        {
            _index.Add(Key(batch[i].Id), start + ((long)i * _recordBytes));
        }

        return batch.Count;
    }

    private void ScanRecords(bool repair)
    {
        long length = _stream.Length;
        long body = length - _headerLength;
        long whole = body / _recordBytes;
        bool torn = body % _recordBytes != 0;
        byte[] record = new byte[_recordBytes];
        byte[] check = new byte[ChecksumBytes];
        SafeFileHandle handle = _stream.SafeFileHandle;
        for (long i = 0; i < whole; i++)
        {
            long offset = _headerLength + (i * _recordBytes);
            ReadExactly(handle, record, offset);
            Checksum(record.AsSpan(0, _recordBytes - ChecksumBytes), check);
            if (!check.AsSpan().SequenceEqual(record.AsSpan(_recordBytes - ChecksumBytes)))
            {
                if (i == whole - 1 && !torn)
                {
                    // The last record is torn (a crash left garbage or zeros in a full-length slot).
                    torn = true;
                    whole--;
                    break;
                }

                throw new SafeRouteException(string.Create(CultureInfo.InvariantCulture, $"The feature cache '{Path}' is corrupt: record {i} (of {whole}) fails its checksum. Delete the file and rebuild it."));
            }

            UInt128 key = BinaryPrimitives.ReadUInt128LittleEndian(record);
            if (!_index.TryAdd(key, offset))
            {
                throw new SafeRouteException(string.Create(CultureInfo.InvariantCulture, $"The feature cache '{Path}' is corrupt: record {i} repeats the key of an earlier record."));
            }
        }

        if (torn)
        {
            RecoveredTornRecord = true;
            if (repair)
            {
                _stream.SetLength(_headerLength + (whole * _recordBytes));
                _stream.Flush(flushToDisk: true);
            }
        }
    }

    private static byte[] BuildHeader(GuardModelIdentity small, GuardModelIdentity large, int hidden)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write((ushort)0);
            w.Write(hidden);
            w.Write(0); // header length, patched below
            WriteIdentity(w, small);
            WriteIdentity(w, large);
        }

        int length = (int)ms.Length + ChecksumBytes;
        byte[] header = new byte[length];
        ms.ToArray().CopyTo(header, 0);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), length);
        Checksum(header.AsSpan(0, length - ChecksumBytes), header.AsSpan(length - ChecksumBytes));
        return header;

        static void WriteIdentity(BinaryWriter w, GuardModelIdentity id)
        {
            byte[] name = Encoding.UTF8.GetBytes(id.Name);
            if (name.Length > ushort.MaxValue)
            {
                name = name[..ushort.MaxValue];
            }

            w.Write((ushort)name.Length);
            w.Write(name);
            w.Write(id.OnnxHashBytes);
            w.Write(id.ManifestHashBytes);
        }
    }

    private static (GuardModelIdentity Small, GuardModelIdentity Large, int Hidden, int HeaderLength) ReadHeader(FileStream stream, string path)
    {
        byte[] fixedPart = new byte[16];
        stream.Seek(0, SeekOrigin.Begin);
        if (stream.Length < fixedPart.Length || stream.Read(fixedPart) != fixedPart.Length || BinaryPrimitives.ReadUInt32LittleEndian(fixedPart) != Magic)
        {
            throw new SafeRouteException($"The file '{path}' is not a SafeRoute feature cache (bad magic number).");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(fixedPart.AsSpan(4));
        if (version != Version)
        {
            throw new SafeRouteException(string.Create(CultureInfo.InvariantCulture, $"The feature cache '{path}' has format version {version}; this library reads version {Version}."));
        }

        int hidden = BinaryPrimitives.ReadInt32LittleEndian(fixedPart.AsSpan(8));
        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(fixedPart.AsSpan(12));
        if (hidden <= 0 || headerLength < fixedPart.Length + ChecksumBytes || headerLength > 1 << 20 || headerLength > stream.Length)
        {
            throw new SafeRouteException($"The feature cache '{path}' has a corrupt header.");
        }

        byte[] header = new byte[headerLength];
        stream.Seek(0, SeekOrigin.Begin);
        stream.ReadExactly(header);
        byte[] check = new byte[ChecksumBytes];
        Checksum(header.AsSpan(0, headerLength - ChecksumBytes), check);
        if (!check.AsSpan().SequenceEqual(header.AsSpan(headerLength - ChecksumBytes)))
        {
            throw new SafeRouteException($"The feature cache '{path}' has a corrupt header (checksum mismatch).");
        }

        try
        {
            int position = fixedPart.Length;
            GuardModelIdentity small = ReadIdentity(header, ref position);
            GuardModelIdentity large = ReadIdentity(header, ref position);
            return (small, large, hidden, headerLength);
        }
        catch (Exception ex) when (ex is ArgumentException or IndexOutOfRangeException)
        {
            throw new SafeRouteException($"The feature cache '{path}' has a corrupt header.", ex);
        }

        static GuardModelIdentity ReadIdentity(byte[] header, ref int position)
        {
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(position));
            position += 2;
            string name = Encoding.UTF8.GetString(header, position, nameLength);
            position += nameLength;
            string onnx = Convert.ToHexString(header, position, 32).ToLowerInvariant();
            position += 32;
            string manifest = Convert.ToHexString(header, position, 32).ToLowerInvariant();
            position += 32;
            return new GuardModelIdentity(name, onnx, manifest);
        }
    }

    private static void ReadExactly(SafeFileHandle handle, byte[] buffer, long offset)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(read), offset + read);
            if (n == 0)
            {
                throw new SafeRouteException("The feature cache ended unexpectedly while reading a record.");
            }

            read += n;
        }
    }

    private static UInt128 Key(string id)
    {
        Span<byte> key = stackalloc byte[KeyBytes];
        WriteKey(id, key);
        return BinaryPrimitives.ReadUInt128LittleEndian(key);
    }

    private static void WriteKey(string id, Span<byte> destination)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(id), hash);
        hash[..KeyBytes].CopyTo(destination);
    }

    private static void Checksum(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(data, hash);
        hash[..ChecksumBytes].CopyTo(destination);
    }
}
