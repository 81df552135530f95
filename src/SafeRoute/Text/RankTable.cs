using System.Buffers.Binary;
using System.Globalization;

namespace SafeRoute.Text;

/// <summary>
/// The ranks of a tiktoken file (token bytes → rank) in one open-addressing table over a single byte array: lookups by
/// span, without allocation, for <see cref="PieceTokenizer"/>'s byte-pair merge.
/// </summary>
internal sealed class RankTable
{
    private readonly byte[] _bytes;
    private readonly int[] _offsets;
    private readonly int[] _ranks;
    private readonly int[] _slots;
    private readonly int _mask;
    private readonly int _longest;

    private RankTable(byte[] bytes, int[] offsets, int[] ranks, int[] slots)
    {
        _bytes = bytes;
        _offsets = offsets;
        _ranks = ranks;
        _slots = slots;
        _mask = slots.Length - 1;
        for (int i = 0; i < ranks.Length; i++)
        {
            _longest = Math.Max(_longest, offsets[i + 1] - offsets[i]);
        }
    }

    /// <summary>Gets the number of tokens.</summary>
    public int Count => _ranks.Length;

    /// <summary>Reads a tiktoken file already checked by <see cref="TiktokenFile"/> (one <c>base64-token rank</c> per line).</summary>
    /// <param name="file">The file's bytes.</param>
    /// <returns>The table; a token that appears twice keeps its last rank, as Microsoft.ML.Tokenizers does.</returns>
    /// <exception cref="FormatException">A line is malformed.</exception>
    public static RankTable Parse(byte[] file)
    {
        var tokens = new List<(int Offset, int Length, int Rank)>(1 << 16);
        var bytes = new List<byte>(file.Length);
        byte[] decoded = new byte[1024];
        int start = 0;
        while (start < file.Length)
        {
            int end = Array.IndexOf(file, (byte)'\n', start);
            if (end < 0)
            {
                end = file.Length;
            }

            int lineEnd = end > start && file[end - 1] == (byte)'\r' ? end - 1 : end;
            ReadOnlySpan<byte> line = file.AsSpan(start, lineEnd - start);
            start = end + 1;
            if (line.IsEmpty)
            {
                continue;
            }

            int space = line.IndexOf((byte)' ');
            if (space <= 0)
            {
                throw new FormatException("A line of the tokenizer file is not 'base64-token rank'.");
            }

            string token = System.Text.Encoding.ASCII.GetString(line[..space]);
            if (decoded.Length < token.Length)
            {
                decoded = new byte[token.Length];
            }

            if (!Convert.TryFromBase64String(token, decoded, out int length) || length == 0
                || !int.TryParse(line[(space + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int rank))
            {
                throw new FormatException("A line of the tokenizer file is not 'base64-token rank'.");
            }

            tokens.Add((bytes.Count, length, rank));
            bytes.AddRange(decoded.AsSpan(0, length));
        }

        byte[] all = [.. bytes];
        int[] offsets = new int[tokens.Count + 1];
        int[] ranks = new int[tokens.Count];
        for (int i = 0; i < tokens.Count; i++)
        {
            offsets[i] = tokens[i].Offset;
            ranks[i] = tokens[i].Rank;
        }

        offsets[tokens.Count] = all.Length;
        int size = 16;
        while (size < tokens.Count * 2)
        {
            size <<= 1;
        }

        var table = new RankTable(all, offsets, ranks, new int[size]);
        for (int i = 0; i < tokens.Count; i++)
        {
            table.Insert(i);
        }

        return table;
    }

    /// <summary>Looks up the rank of a token's bytes.</summary>
    /// <param name="token">The bytes.</param>
    /// <param name="rank">The rank, when found.</param>
    /// <returns>Whether the bytes are a token.</returns>
    public bool TryGetRank(ReadOnlySpan<byte> token, out int rank)
    {
        if (token.Length > _longest)
        {
            rank = 0;
            return false;
        }

        int slot = (int)Hash(token) & _mask;
        while (true)
        {
            int entry = _slots[slot];
            if (entry == 0)
            {
                rank = 0;
                return false;
            }

            int index = entry - 1;
            if (_bytes.AsSpan(_offsets[index], _offsets[index + 1] - _offsets[index]).SequenceEqual(token))
            {
                rank = _ranks[index];
                return true;
            }

            slot = (slot + 1) & _mask;
        }
    }

    private void Insert(int index)
    {
        ReadOnlySpan<byte> token = _bytes.AsSpan(_offsets[index], _offsets[index + 1] - _offsets[index]);
        int slot = (int)Hash(token) & _mask;
        while (true)
        {
            int entry = _slots[slot];
            if (entry == 0)
            {
                _slots[slot] = index + 1;
                return;
            }

            int other = entry - 1;
            if (_bytes.AsSpan(_offsets[other], _offsets[other + 1] - _offsets[other]).SequenceEqual(token))
            {
                // The same bytes twice: the later line wins.
                _slots[slot] = index + 1;
                return;
            }

            slot = (slot + 1) & _mask;
        }
    }

    /// <summary>A 64-bit multiply-xorshift hash over 8-byte words; deterministic (the table's keys are fixed, so a
    /// caller cannot lengthen probes by choosing what to look up beyond the table's own clustering).</summary>
    private static ulong Hash(ReadOnlySpan<byte> data)
    {
        ulong h = (ulong)data.Length * 0x9E3779B97F4A7C15UL;
        while (data.Length >= 8)
        {
            h = (h ^ BinaryPrimitives.ReadUInt64LittleEndian(data)) * 0xBF58476D1CE4E5B9UL;
            h ^= h >> 31;
            data = data[8..];
        }

        ulong tail = 0;
        for (int i = 0; i < data.Length; i++)
        {
            tail |= (ulong)data[i] << (8 * i);
        }

        h = (h ^ tail) * 0x94D049BB133111EBUL;
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9UL;
        return h ^ (h >> 32);
    }
}
