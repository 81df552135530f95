// Expects SafeRouteException naming the native packages; exit 0 only when that is what happened.
using SafeRoute;

try
{
    using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(args[0]);
    Console.Error.WriteLine("no-native check: the guard loaded without a native ONNX Runtime package");
    return 1;
}
catch (SafeRouteException ex) when (ex.Message.Contains("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal))
{
    Console.WriteLine($"no-native check: OK ({ex.Message})");
    return 0;
}
