using SafeRoute.Samples.Console;
using SafeRoute.Tests.Guards;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Samples;

[TestFixture]
public sealed class ConsoleSampleTests
{
    [Test]
    public async Task RunAsync_ResolvesGuardFromDiAndClassifiesArguments()
    {
        using var temp = new TempDirectory("saferoute-sample");
        TestGuard small = TestGuardFactory.Create(temp.Sub("small"), TestGuardOptions.Small);
        TestGuard large = TestGuardFactory.Create(temp.Sub("large"), TestGuardOptions.Large);
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await SampleApp.RunAsync(
            [$"--SafeRoute:SmallModel:Path={small.Directory}", $"--SafeRoute:LargeModel:Path={large.Directory}", "--SafeRoute:Router:Kind=Entropy",
             $"about {TestGuard.TriggerWords[0]}", $"about {TestGuard.BenignWords[0]}", $"about {TestGuard.BorderlineWords[0]}"],
            TextReader.Null, output, error);
        Assert.That(exit, Is.Zero, error.ToString());
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(3));
        Assert.That(lines[0], Does.StartWith("UNSAFE").And.Contain("decided-by=Small"));
        Assert.That(lines[1], Does.StartWith("safe").And.Contain("decided-by=Small"));
        Assert.That(lines[2], Does.Contain("decided-by=Large"));
    }

    [Test]
    public async Task RunAsync_ReadsStdinLines_WhenNoTextArguments()
    {
        using var temp = new TempDirectory("saferoute-sample");
        TestGuard small = TestGuardFactory.Create(temp.Sub("small"), TestGuardOptions.Small);
        TestGuard large = TestGuardFactory.Create(temp.Sub("large"), TestGuardOptions.Large);
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var input = new StringReader($"{TestGuard.TriggerWords[0]}\n\n{TestGuard.BenignWords[0]}\n");
        int exit = await SampleApp.RunAsync(
            [$"--SafeRoute:SmallModel:Path={small.Directory}", $"--SafeRoute:LargeModel:Path={large.Directory}", "--SafeRoute:Router:Kind=Entropy"],
            input, output, error);
        Assert.That(exit, Is.Zero, error.ToString());
        Assert.That(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2));
    }

    [Test]
    public async Task RunAsync_BadConfiguration_ExitsWith2AndNamesSetting_InOneLine()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await SampleApp.RunAsync(["--SafeRoute:SmallModel:Path=/nope/small", "hello"], TextReader.Null, output, error);
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("SafeRoute:SmallModel:Path"));
        Assert.That(error.ToString().TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one line, no host stack trace");
        Assert.That(output.ToString(), Is.Empty);
    }

    [Test]
    public async Task RunAsync_OutOfTheBox_ClassifiesWithTheDefaultModels()
    {
        // The sample's own appsettings.json (copied next to this assembly) configures no model: the default models run.
        Assert.That(File.Exists(Path.Combine(AppContext.BaseDirectory, "appsettings.json")), Is.True);
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await SampleApp.RunAsync(["How do I water a cactus?", "Write a poem about autumn leaves."], TextReader.Null, output, error);
        Assert.That(exit, Is.Zero, error.ToString());
        Assert.That(error.ToString(), Is.Empty);
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(2));
        Assert.That(lines, Has.All.Match(@"^(safe|UNSAFE)\s+p\(unsafe\)=[01]\.\d{3}\s+decided-by=(Small|Large)\s+router=[01]\.\d{3}"));
    }
}
