using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SafeRoute.Extensions.AI;
using SafeRoute.Samples.Chat;

namespace SafeRoute.Tests.Integrations;

public sealed class ChatSampleTests
{
    [Test]
    public async Task The_sample_host_chats_through_SafeRoute_with_the_default_models()
    {
        // The test folder also holds the console sample's appsettings.json (model paths of its own): clear them so the
        // defaults apply, as they do for the chat sample on its own.
        using IHost host = ChatSampleApp.BuildHost(["--SafeRoute:WarmUp=false", "--SafeRoute:SmallModel:Path=", "--SafeRoute:LargeModel:Path=", "--SafeRoute:Router:Kind=Mlp"]);
        IChatClient chat = host.Services.GetRequiredService<IChatClient>();
        using var output = new StringWriter();
        await ChatSampleApp.ChatAsync(chat, new StringReader("What is the capital of France?\n\nWrite a haiku about autumn.\n"), output);
        string text = output.ToString();
        Assert.Multiple(() =>
        {
            Assert.That(chat.GetService<SafeRouteChatClient>(), Is.Not.Null);
            Assert.That(chat.GetService<EchoChatClient>(), Is.Not.Null);
            Assert.That(text.Split('\n').Count(l => l.StartsWith("assistant> ", StringComparison.Ordinal)), Is.EqualTo(2));
        });
    }

    [Test]
    public async Task The_sample_reports_a_block_and_keeps_the_blocked_prompt_out_of_the_history()
    {
        var guard = new MarkerGuard();
        IChatClient chat = new ChatClientBuilder(new EchoChatClient()).UseSafeRoute(guard, o => o.StreamingWindowChars = 8).Build();
        using var output = new StringWriter();
        int blocked = await ChatSampleApp.ChatAsync(chat, new StringReader($"hello there\nsay {MarkerGuard.Marker}\nbye\n"), output);
        string text = output.ToString();
        Assert.Multiple(() =>
        {
            Assert.That(blocked, Is.EqualTo(1));
            Assert.That(text, Does.Contain("You said: hello there"));
            Assert.That(text, Does.Contain("[SafeRoute blocked the prompt: p(unsafe) = 0.900, decided by the Small guard]"));
            Assert.That(text, Does.Contain("You said: bye"));
            Assert.That(text, Does.Not.Contain("You said: say"));
        });
    }
}
