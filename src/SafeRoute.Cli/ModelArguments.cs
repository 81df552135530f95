using System.CommandLine;
using SafeRoute.Remote;
using SafeRoute.Routing;

namespace SafeRoute.Cli;

/// <summary>The model-folder options shared by the commands that run guards.</summary>
internal sealed class ModelArguments
{
    public Option<string?> Models { get; } = new("--models")
    {
        Description = "A folder laid out like the default models: small/, large/ and router.safetensors. Default: the bundled default demonstration models.",
        HelpName = "dir",
    };

    public Option<string?> Small { get; } = new("--small")
    {
        Description = "The small guard's model folder (with saferoute.json); overrides --models.",
        HelpName = "dir",
    };

    public Option<string?> Large { get; } = new("--large")
    {
        Description = "The large guard's model folder; overrides --models.",
        HelpName = "dir",
    };

    public Option<string?> LargeEndpoint { get; } = new("--large-endpoint")
    {
        Description = "The large guard is a model served over the OpenAI-compatible completions API at this base address (vLLM, TGI, llama.cpp server, the SafeRoute.GuardServer sample), instead of a model folder; needs --large-model.",
        HelpName = "url",
    };

    public Option<string?> LargeModel { get; } = new("--large-model")
    {
        Description = "The served model name of --large-endpoint (vLLM: --served-model-name).",
        HelpName = "name",
    };

    public Option<string> LargeFamily { get; } = new("--large-family")
    {
        Description = "The prompt family the served large model speaks: llama-guard-3-8b (the default), llama-guard-3-1b, a built-in template kind whose verdict is one token (qwen3guard-gen, wildguard, llama-guard-4, nemoguard-content-safety), or a model folder whose saferoute.json describes the family (its template texts, prefill and verdict.labels).",
        HelpName = "family",
        DefaultValueFactory = _ => "llama-guard-3-8b",
    };

    public Option<string> LargeProtocol { get; } = new("--large-protocol")
    {
        Description = "The API of --large-endpoint: completions (a decoder family, the default), vllm-classify (a sequence classifier on vLLM's /classify: prompts only) or tei-predict (a sequence classifier on Text Embeddings Inference's /predict).",
        HelpName = "api",
        DefaultValueFactory = _ => "completions",
    };

    public Option<string?> LargeLabels { get; } = new("--large-labels")
    {
        Description = "A served classifier's labels in logit order, comma-separated (vllm-classify: required; tei-predict: checked when given).",
        HelpName = "labels",
    };

    public Option<string?> LargeUnsafeLabels { get; } = new("--large-unsafe-labels")
    {
        Description = "The served classifier's labels that mean unsafe, comma-separated (required with vllm-classify and tei-predict).",
        HelpName = "labels",
    };

    public Option<bool> LargeMultiLabel { get; } = new("--large-multi-label")
    {
        Description = "The served classifier is multi-label (independent sigmoids: p(unsafe) is the largest unsafe label's); otherwise one softmax.",
    };

    public Option<string?> LargeApiKeyEnv { get; } = new("--large-api-key-env")
    {
        Description = "The name of an environment variable that holds the API key of --large-endpoint (sent as a bearer token; never put a key on the command line).",
        HelpName = "var",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Models);
        command.Options.Add(Small);
        command.Options.Add(Large);
        command.Options.Add(LargeEndpoint);
        command.Options.Add(LargeModel);
        command.Options.Add(LargeFamily);
        command.Options.Add(LargeProtocol);
        command.Options.Add(LargeLabels);
        command.Options.Add(LargeUnsafeLabels);
        command.Options.Add(LargeMultiLabel);
        command.Options.Add(LargeApiKeyEnv);
    }

    /// <summary>Gets whether the large guard is a served model (--large-endpoint).</summary>
    public bool LargeIsRemote(ParseResult parse) => parse.GetValue(LargeEndpoint) is not null;

    // Paths on the command line are relative to the current directory; the library would resolve a relative path
    // against the app's base directory, so every path is made full here.

    /// <summary>The folder --models names, or the default models' folder.</summary>
    public string Root(ParseResult parse) => Path.GetFullPath(parse.GetValue(Models) ?? DefaultGuardModels.Directory);

    public string SmallPath(ParseResult parse) => CheckFolder(parse.GetValue(Small) ?? Path.Combine(Root(parse), "small"), "--small");

    public string LargePath(ParseResult parse) => CheckFolder(parse.GetValue(Large) ?? Path.Combine(Root(parse), "large"), "--large");

    public string RouterPath(ParseResult parse) => Path.Combine(Root(parse), "router.safetensors");

    /// <summary>The router a --router value names: 'entropy', a router file (trained, or a baseline router file), or (no value, default models or --models)
    /// the folder's router.safetensors. With --small/--large a router must be given: the folder's router belongs to its own small guard.</summary>
    public ISafetyRouter LoadRouter(ParseResult parse, string? routerArg)
    {
        bool ownGuards = parse.GetValue(Small) is null && parse.GetValue(Large) is null;
        routerArg ??= ownGuards ? RouterPath(parse) : throw new UsageException("with --small/--large, give --router (a router file trained for that small guard, or 'entropy').");
        return string.Equals(routerArg, "entropy", StringComparison.OrdinalIgnoreCase)
            ? new EntropyRouter()
            : LoadRouterFile(routerArg);
    }

    /// <summary>A router file: a trained router (safetensors) or a baseline router file (JSON, from 'saferoute calibrate --router entropy|ts|cc|bc').</summary>
    public static ISafetyRouter LoadRouterFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The router file '{path}' does not exist.", path);
        }

        string full = Path.GetFullPath(path);
        return LooksLikeJson(full) ? BaselineRouterFile.Load(full) : MlpRouter.Load(full);
    }

    // JSON text (a baseline router file) rather than safetensors, whose 8-byte little-endian header length has zero high bytes.
    private static bool LooksLikeJson(string path)
    {
        byte[] head = new byte[16];
        int read;
        using (FileStream stream = File.OpenRead(path))
        {
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        ReadOnlySpan<byte> bytes = head.AsSpan(0, read);
        if (bytes[..Math.Min(8, bytes.Length)].Contains((byte)0))
        {
            return false;
        }

        bytes = bytes.StartsWith("\uFEFF"u8) ? bytes[3..] : bytes;
        bytes = bytes.TrimStart(" \t\r\n"u8);
        return !bytes.IsEmpty && bytes[0] == (byte)'{';
    }

    public OnnxSafetyGuard LoadSmall(ParseResult parse) => OnnxSafetyGuard.Create(SmallPath(parse), tier: GuardTier.Small);

    /// <summary>The large guard: the --large (or --models) folder, or the model served at --large-endpoint.</summary>
    public LargeGuard LoadLarge(ParseResult parse)
    {
        if (parse.GetValue(LargeEndpoint) is not { } endpointText)
        {
            foreach (Option option in new Option[] { LargeModel, LargeApiKeyEnv, LargeProtocol, LargeLabels, LargeUnsafeLabels, LargeMultiLabel, LargeFamily })
            {
                if (parse.GetResult(option) is { Implicit: false })
                {
                    throw new UsageException($"{option.Name} needs --large-endpoint.");
                }
            }

            return LargeGuard.Local(LargePath(parse));
        }

        if (parse.GetValue(Large) is not null)
        {
            throw new UsageException("give either --large (a model folder) or --large-endpoint (a served model), not both.");
        }

        if (!Uri.TryCreate(endpointText, UriKind.Absolute, out Uri? endpoint) || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"--large-endpoint must be an absolute http(s) address such as http://vllm:8000/ (got '{endpointText}').");
        }

        string model = parse.GetValue(LargeModel) is { Length: > 0 } m && !string.IsNullOrWhiteSpace(m)
            ? m
            : throw new UsageException("--large-endpoint needs --large-model (the served model name).");
        string? apiKey = null;
        if (parse.GetValue(LargeApiKeyEnv) is { } variable)
        {
            apiKey = Environment.GetEnvironmentVariable(variable) is { Length: > 0 } key
                ? key
                : throw new UsageException($"--large-api-key-env names '{variable}', which is not set or empty.");
        }

        string protocolName = parse.GetValue(LargeProtocol)!;
        RemoteGuardProtocol protocol = protocolName switch
        {
            "completions" => RemoteGuardProtocol.Completions,
            "vllm-classify" => RemoteGuardProtocol.VllmClassify,
            "tei-predict" => RemoteGuardProtocol.TeiPredict,
            _ => throw new UsageException($"--large-protocol '{protocolName}' is not known; use completions, vllm-classify or tei-predict."),
        };
        if (protocol != RemoteGuardProtocol.Completions)
        {
            return RemoteClassifier(parse, endpoint, model, apiKey, protocol, protocolName);
        }

        foreach (Option option in new Option[] { LargeLabels, LargeUnsafeLabels, LargeMultiLabel })
        {
            if (parse.GetResult(option) is { Implicit: false })
            {
                throw new UsageException($"{option.Name} is for a served classifier (--large-protocol vllm-classify or tei-predict).");
            }
        }

        string family = parse.GetValue(LargeFamily)!;
        GuardPromptFormat? format = null;
        bool is8B = family != "llama-guard-3-1b";
        if (family is not ("llama-guard-3-8b" or "llama-guard-3-1b"))
        {
            if (Directory.Exists(family))
            {
                family = Path.GetFullPath(family);
                format = GuardPromptFormat.FromModelFolder(family);
            }
            else
            {
                try
                {
                    format = GuardPromptFormat.FromKind(family);
                }
                catch (ArgumentException ex)
                {
                    throw new UsageException($"--large-family '{family}' is neither a model folder nor a family the completions API can serve: {ex.Message}");
                }
            }
        }

        return LargeGuard.Remote(
            o =>
            {
                o.Endpoint = endpoint;
                o.Model = model;
                o.Is8B = is8B;
                o.PromptFormat = format;
                o.ApiKey = apiKey;
            },
            DescribeFormat(format ?? GuardPromptFormat.LlamaGuard3(is8B)));
    }

    private LargeGuard RemoteClassifier(ParseResult parse, Uri endpoint, string model, string? apiKey, RemoteGuardProtocol protocol, string protocolName)
    {
        if (parse.GetResult(LargeFamily) is { Implicit: false })
        {
            throw new UsageException("--large-family is for a decoder family on the completions API; a served classifier takes --large-labels and --large-unsafe-labels.");
        }

        static string[] Split(string? text) => text is null ? [] : [.. text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)];
        string[] labels = Split(parse.GetValue(LargeLabels));
        string[] unsafeLabels = Split(parse.GetValue(LargeUnsafeLabels));
        if (unsafeLabels.Length == 0)
        {
            throw new UsageException($"--large-protocol {protocolName} needs --large-unsafe-labels (the labels that mean unsafe).");
        }

        bool multiLabel = parse.GetValue(LargeMultiLabel);
        return LargeGuard.Remote(
            o =>
            {
                o.Endpoint = endpoint;
                o.Model = model;
                o.ApiKey = apiKey;
                o.Protocol = protocol;
                o.ClassifierLabels = labels;
                o.UnsafeLabels = unsafeLabels;
                o.MultiLabel = multiLabel;
            },
            $"protocol={protocolName}\nlabels={string.Join('|', labels)}\nunsafe={string.Join('|', unsafeLabels)}\nmultiLabel={multiLabel}");
    }

    /// <summary>What a served family's answers depend on, for the cache identity: its kind, the text it renders for a
    /// fixed request (template texts, prefill, stripping) and its verdict tokens.</summary>
    private static string DescribeFormat(GuardPromptFormat format)
    {
        string rendered = format.Render(new SafetyRequest("{identity probe}"));
        return $"kind={format.Kind}\nrendered={rendered}\nsafe={string.Join('|', format.SafeTokens)}\nunsafe={string.Join('|', format.UnsafeTokens)}\ncontroversial={string.Join('|', format.ControversialTokens)}\ncontroversialAsUnsafe={format.ControversialAsUnsafe}";
    }

    private static string CheckFolder(string path, string option)
    {
        path = Path.GetFullPath(path);
        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException($"The model folder '{path}' ({option}) does not exist.");
        }

        return path;
    }
}
