using SafeRoute;
using SafeRoute.GuardServer;

// Serves a guard model folder in the protocol that matches it (see GuardServerEndpoints): a Llama Guard 3 or other decoder
// family on the OpenAI-compatible /v1/completions (prompts in the folder's saferoute.json format), a classifier on vLLM's
// /classify and Text Embeddings Inference's /predict.
//   dotnet run --project samples/SafeRoute.GuardServer -- --GuardServer:ModelPath=path/to/model --urls http://127.0.0.1:8000
// With no ModelPath it serves the default demonstration large guard.
WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
string modelPath = builder.Configuration["GuardServer:ModelPath"] is { Length: > 0 } path
    ? Path.GetFullPath(path, builder.Environment.ContentRootPath) // relative to the content root, as with AddSafeRoute
    : DefaultGuardModels.LargeModelPath;
string modelName = builder.Configuration["GuardServer:ModelName"] is { Length: > 0 } name ? name : Path.GetFileName(Path.TrimEndingDirectorySeparator(modelPath));
OnnxSafetyGuard guard;
GuardPromptFormat? format = null;
try
{
    guard = OnnxSafetyGuard.Create(modelPath, tier: GuardTier.Large);
    if (GuardModelFolder.Load(modelPath).Kind == GuardModelKind.Decoder)
    {
        format = GuardPromptFormat.FromModelFolder(modelPath);
    }
}
catch (SafeRouteException ex)
{
    Console.Error.WriteLine($"The guard server could not load its model: {ex.Message}");
    return 2;
}

builder.Services.AddSingleton(guard); // the container disposes it at shutdown

WebApplication app = builder.Build();
string served;
if (format is null)
{
    GuardServerEndpoints.MapClassifier(app, guard, modelName);
    served = "/classify and /predict (labels safe, unsafe)";
}
else if (format.Kind.StartsWith("llama-guard-3", StringComparison.Ordinal))
{
    GuardServerEndpoints.Map(app, guard, modelName);
    served = "/v1/completions (Llama Guard 3 prompts)";
}
else
{
    GuardServerEndpoints.MapDecoder(app, guard, modelName, format);
    served = $"/v1/completions ({format.Kind} prompts)";
}

Console.WriteLine($"Serving guard model {modelName} from {modelPath} on {served}");
await app.RunAsync().ConfigureAwait(false);
return 0;
