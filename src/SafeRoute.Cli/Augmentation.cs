using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary>
/// Paraphrase augmentation for <c>train-router</c>: an OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama,
/// OpenAI, …) through the tool's own Microsoft.Extensions.AI client (<see cref="OpenAICompatibleChatClient"/>), the
/// library's <see cref="ParaphraseAugmenter"/>, a resumable JSONL file of paraphrases, and both guards run on them through
/// the feature cache (which relabels them).
/// </summary>
internal sealed class Augmentation
{
    public Option<int> Paraphrases { get; } = new("--paraphrases")
    {
        Description = "Paraphrases per training row from a chat model (the paper used 7), relabelled by both guards. 0 = no augmentation.",
        DefaultValueFactory = _ => 0,
        HelpName = "n",
    };

    public Option<string?> Endpoint { get; } = new("--chat-endpoint")
    {
        Description = "Base URL of an OpenAI-compatible chat API for --paraphrases, for example http://localhost:8000/v1.",
        HelpName = "url",
    };

    public Option<string?> Model { get; } = new("--chat-model") { Description = "The chat model for --paraphrases.", HelpName = "name" };

    public Option<string> KeyVariable { get; } = new("--chat-api-key-env")
    {
        Description = "The environment variable that holds the chat API key (unset: no key, for local servers).",
        DefaultValueFactory = _ => "OPENAI_API_KEY",
        HelpName = "name",
    };

    public Option<string?> File { get; } = new("--paraphrase-file")
    {
        Description = "JSONL file that keeps the paraphrases (resumable; reusable as --data). Default: the --out file name + .paraphrases.jsonl.",
        HelpName = "file",
    };

    public ModelArguments Models { get; } = new();

    public void AddTo(Command command)
    {
        foreach (Option o in (Option[])[Paraphrases, Endpoint, Model, KeyVariable, File])
        {
            command.Options.Add(o);
        }

        Models.AddTo(command);
    }

    /// <summary>Validates the options; returns the number of paraphrases per row (0 = off).</summary>
    public int Check(ParseResult parse)
    {
        int n = parse.GetValue(Paraphrases);
        if (n < 0)
        {
            throw new UsageException("--paraphrases must be 0 or more.");
        }

        if (n > 0 && (parse.GetValue(Endpoint) is null || parse.GetValue(Model) is null))
        {
            throw new UsageException("--paraphrases needs --chat-endpoint and --chat-model.");
        }

        if (n > 0 && (!Uri.TryCreate(parse.GetValue(Endpoint), UriKind.Absolute, out Uri? endpoint)
            || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps)))
        {
            throw new UsageException("--chat-endpoint must be an absolute http or https URL.");
        }

        return n;
    }

    /// <summary>Paraphrases the rows not yet in the paraphrase file, caches every paraphrase with both guards, returns them all.</summary>
    public async Task<List<SafetyExample>> RunAsync(CliConsole console, ParseResult parse, IReadOnlyList<SafetyExample> rows, string cachePath, string outPath, CancellationToken ct)
    {
        int n = parse.GetValue(Paraphrases);
        string file = parse.GetValue(File) ?? outPath + ".paraphrases.jsonl";
        var done = new HashSet<string>(StringComparer.Ordinal);
        if (System.IO.File.Exists(file))
        {
            foreach (SafetyExample p in SafetyDataset.Read(file))
            {
                int cut = p.Id.LastIndexOf("#para", StringComparison.Ordinal);
                done.Add(cut < 0 ? p.Id : p.Id[..cut]);
            }
        }

        List<SafetyExample> todo = [.. rows.Where(r => !done.Contains(r.Id))];
        await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"paraphrasing {todo.Count} rows × {n} with {parse.GetValue(Model)} ({rows.Count - todo.Count} already in {file}).")).ConfigureAwait(false);
        if (todo.Count > 0)
        {
            string? key = Environment.GetEnvironmentVariable(parse.GetValue(KeyVariable)!);
            using IChatClient client = new OpenAICompatibleChatClient(new Uri(parse.GetValue(Endpoint)!), parse.GetValue(Model)!, key);
            var augmenter = new ParaphraseAugmenter(client, new ParaphraseAugmenterOptions { ParaphrasesPerExample = n });
            using var stream = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.Read);
            int written = 0;
            await console.RunWithProgressAsync("paraphrasing", (double)todo.Count * n, report =>
            {
                foreach (SafetyExample p in augmenter.ParaphraseAsync(todo, ct).ToBlockingEnumerable(ct))
                {
                    SafetyDataset.Write(stream, p);
                    stream.Flush();
                    report(++written + augmenter.Skipped);
                }

                return written;
            }).ConfigureAwait(false);
            if (augmenter.Skipped > 0)
            {
                await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"note: {augmenter.Skipped} paraphrases skipped (answers not in the 'prompt: … response: …' format).")).ConfigureAwait(false);
            }
        }

        List<SafetyExample> paraphrases = [.. SafetyDataset.Read(file)];
        using OnnxSafetyGuard small = Models.LoadSmall(parse);
        using LargeGuard large = Models.LoadLarge(parse);
        using FeatureCache cache = large.OpenCache(cachePath, small);
        int missing = paraphrases.Count(p => !cache.Contains(p.Id));
        await console.RunWithProgressAsync("relabelling paraphrases", missing, report =>
            cache.Add(paraphrases, 32, new InlineProgress<FeatureCacheProgress>(p => report(p.Added)), ct)).ConfigureAwait(false);
        return paraphrases;
    }
}
