// Compiles and restores in CI (not run: no GPU there). Usage: GpuConsumer <model folder> "text".
using SafeRoute;

var options = new GuardModelOptions();
options.ExecutionProviders.Add(new ExecutionProviderOptions { Provider = ExecutionProvider.Cuda, DeviceId = 0 });
options.ExecutionProviders.Add(new ExecutionProviderOptions { Provider = ExecutionProvider.Cpu });
using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(args[0], options);
SafetyVerdict verdict = await guard.EvaluateAsync(new SafetyRequest(args[1]));
Console.WriteLine($"{verdict.IsUnsafe} {verdict.UnsafeProbability:0.000}");
