using SafeRoute;
using SafeRoute.GuardServer;

// Serves a guard model folder over the OpenAI-compatible /v1/completions contract (see GuardServerEndpoints).
//   dotnet run --project samples/SafeRoute.GuardServer -- --GuardServer:ModelPath=path/to/model --urls http://127.0.0.1:8000
// With no ModelPath it serves the default demonstration large guard.
WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
string modelPath = builder.Configuration["GuardServer:ModelPath"] is { Length: > 0 } path
    ? Path.GetFullPath(path, builder.Environment.ContentRootPath) // relative to the content root, as with AddSafeRoute
    : DefaultGuardModels.LargeModelPath;
string modelName = builder.Configuration["GuardServer:ModelName"] is { Length: > 0 } name ? name : Path.GetFileName(Path.TrimEndingDirectorySeparator(modelPath));
OnnxSafetyGuard guard;
try
{
    guard = OnnxSafetyGuard.Create(modelPath, tier: GuardTier.Large);
}
catch (SafeRouteException ex)
{
    Console.Error.WriteLine($"The guard server could not load its model: {ex.Message}");
    return 2;
}

builder.Services.AddSingleton(guard); // the container disposes it at shutdown

WebApplication app = builder.Build();
GuardServerEndpoints.Map(app, guard, modelName);
Console.WriteLine($"Serving guard model {modelName} from {modelPath}");
await app.RunAsync().ConfigureAwait(false);
return 0;
