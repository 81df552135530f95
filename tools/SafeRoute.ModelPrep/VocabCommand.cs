using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace SafeRoute.ModelPrep;

/// <summary>
/// Writes the decoded text of every GPT-2 token id (one JSON string per line, line n = id n), so the Python trainer can
/// look tokens up in a word-vector table without a tokenizer of its own. Contains no dataset text.
/// </summary>
internal static class VocabCommand
{
    public static int Run(Dictionary<string, string> options)
    {
        string output = Program.Required(options, "out");
        TiktokenTokenizer gpt2 = TiktokenTokenizer.CreateForModel("gpt2");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        using var writer = new StreamWriter(output, append: false, new UTF8Encoding(false));
        int[] one = new int[1];
        for (int id = 0; id < 50257; id++)
        {
            one[0] = id;
            writer.WriteLine(JsonSerializer.Serialize(gpt2.Decode(one) ?? string.Empty));
        }

        return 0;
    }
}
