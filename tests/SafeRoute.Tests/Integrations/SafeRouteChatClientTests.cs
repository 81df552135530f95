using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using SafeRoute.Extensions.AI;

namespace SafeRoute.Tests.Integrations;

public sealed class SafeRouteChatClientTests
{
    private const string SafeReply = "Paris is the capital of France. It is known for the Eiffel Tower, museums and cafes along the Seine.";

    [Test]
    public async Task A_blocked_prompt_never_reaches_the_inner_client()
    {
        var inner = new ScriptedChatClient(SafeReply);
        var guard = new MarkerGuard();
        IChatClient client = new ChatClientBuilder(inner).UseSafeRoute(guard).Build();

        ChatResponse response = await client.GetResponseAsync([new ChatMessage(ChatRole.System, "be nice"), new ChatMessage(ChatRole.User, "tell me " + MarkerGuard.Marker)]);

        Assert.Multiple(() =>
        {
            Assert.That(inner.Calls, Is.Zero);
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ContentFilter));
            Assert.That(response.Text, Is.EqualTo(new SafeRouteChatOptions().BlockedMessage));
            Assert.That(response.Messages.Single().Role, Is.EqualTo(ChatRole.Assistant));
            var verdict = (SafetyVerdict)response.AdditionalProperties![SafeRouteChatClient.VerdictKey]!;
            Assert.That(verdict.IsUnsafe, Is.True);
            var block = (SafeRouteChatBlock)response.RawRepresentation!;
            Assert.That(block.Stage, Is.EqualTo(SafeRouteChatStage.Prompt));
            Assert.That(guard.Requests.Single().HasResponse, Is.False);
        });
    }

    [Test]
    public async Task Messages_of_only_Python_white_space_count_as_absent_like_in_SafetyRequest()
    {
        // U+001C–U+001F are white space for Python's str.strip() (Llama Guard's template) and for SafetyRequest.
        var blankPromptGuard = new MarkerGuard();
        var blankPromptInner = new ScriptedChatClient(SafeReply);
        IChatClient blankPrompt = new ChatClientBuilder(blankPromptInner).UseSafeRoute(blankPromptGuard).Build();
        var blankReplyGuard = new MarkerGuard();
        IChatClient blankReply = new ChatClientBuilder(new ScriptedChatClient("\u001C\u001F ")).UseSafeRoute(blankReplyGuard).Build();

        await blankPrompt.GetResponseAsync("\u001C\u001D");
        await blankReply.GetResponseAsync("a harmless question");

        Assert.Multiple(() =>
        {
            Assert.That(blankPromptInner.Calls, Is.EqualTo(1));
            Assert.That(blankPromptGuard.Requests.Single().Prompt, Is.EqualTo("(no user message)"), "only the reply is checked");
            Assert.That(blankPromptGuard.Requests.Single().Response, Is.EqualTo(SafeReply));
            Assert.That(blankReplyGuard.Requests.Single().HasResponse, Is.False, "only the prompt is checked");
        });
    }

    [Test]
    public async Task An_unsafe_reply_is_replaced_after_the_inner_call_and_keeps_usage()
    {
        var inner = new ScriptedChatClient("Sure: " + MarkerGuard.Marker);
        var guard = new MarkerGuard();
        IChatClient client = new ChatClientBuilder(inner).UseSafeRoute(guard, o => o.BlockedMessage = "Blocked.").Build();

        ChatResponse response = await client.GetResponseAsync("a harmless question");

        Assert.Multiple(() =>
        {
            Assert.That(inner.Calls, Is.EqualTo(1));
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ContentFilter));
            Assert.That(response.Text, Is.EqualTo("Blocked."));
            Assert.That(response.Usage?.OutputTokenCount, Is.EqualTo(7));
            Assert.That(((SafeRouteChatBlock)response.AdditionalProperties![SafeRouteChatClient.BlockKey]!).Stage, Is.EqualTo(SafeRouteChatStage.Response));
            Assert.That(guard.Requests[1].Prompt, Is.EqualTo("a harmless question"), "the reply is checked with the user's prompt");
            Assert.That(guard.Requests[1].Response, Does.Contain(MarkerGuard.Marker));
        });
    }

    [Test]
    public async Task An_allowed_exchange_passes_unchanged_with_both_verdicts_attached()
    {
        var inner = new ScriptedChatClient(SafeReply);
        IChatClient client = new ChatClientBuilder(inner).UseSafeRoute(new MarkerGuard()).Build();
        ChatResponse response = await client.GetResponseAsync("What is the capital of France?");
        Assert.Multiple(() =>
        {
            Assert.That(response.Text, Is.EqualTo(SafeReply));
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
            Assert.That(response.AdditionalProperties![SafeRouteChatClient.PromptVerdictKey], Is.InstanceOf<SafetyVerdict>());
            Assert.That(response.AdditionalProperties![SafeRouteChatClient.ResponseVerdictKey], Is.InstanceOf<SafetyVerdict>());
        });
    }

    [Test]
    public async Task Checking_prompts_only_lets_any_reply_through_and_the_factory_shapes_blocks()
    {
        var inner = new ScriptedChatClient("reply " + MarkerGuard.Marker);
        var guard = new MarkerGuard();
        IChatClient client = new ChatClientBuilder(inner).UseSafeRoute(guard, o =>
        {
            o.Checks = SafeRouteChatChecks.Prompts;
            o.BlockedMessageFactory = b => new ChatMessage(ChatRole.Assistant, $"blocked {b.Stage} p={b.Verdict!.UnsafeProbability:0.0}");
        }).Build();

        ChatResponse allowed = await client.GetResponseAsync("fine");
        ChatResponse blocked = await client.GetResponseAsync(MarkerGuard.Marker);
        Assert.Multiple(() =>
        {
            Assert.That(allowed.Text, Does.Contain(MarkerGuard.Marker));
            Assert.That(guard.Requests, Has.Count.EqualTo(2), "one prompt check per call, no response checks");
            Assert.That(blocked.Text, Is.EqualTo("blocked Prompt p=0.9"));
        });
    }

    [TestCase(SafeRouteChatFailureMode.Block)]
    [TestCase(SafeRouteChatFailureMode.Allow)]
    [TestCase(SafeRouteChatFailureMode.Throw)]
    public async Task A_failing_guard_is_handled_by_the_failure_mode(SafeRouteChatFailureMode mode)
    {
        var inner = new ScriptedChatClient(SafeReply);
        var guard = new MarkerGuard { Failure = new InvalidOperationException("guard down") };
        IChatClient client = new ChatClientBuilder(inner).UseSafeRoute(guard, o => o.FailureMode = mode).Build();
        if (mode == SafeRouteChatFailureMode.Throw)
        {
            Assert.That(async () => await client.GetResponseAsync("hello"), Throws.InvalidOperationException.With.Message.EqualTo("guard down"));
            return;
        }

        ChatResponse response = await client.GetResponseAsync("hello");
        if (mode == SafeRouteChatFailureMode.Allow)
        {
            Assert.That(response.Text, Is.EqualTo(SafeReply));
        }
        else
        {
            var block = (SafeRouteChatBlock)response.RawRepresentation!;
            Assert.Multiple(() =>
            {
                Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ContentFilter));
                Assert.That(block.Verdict, Is.Null);
                Assert.That(block.Failure, Is.InstanceOf<InvalidOperationException>());
                Assert.That(inner.Calls, Is.Zero);
            });
        }
    }

    [Test]
    public async Task A_safe_stream_is_released_in_order_after_each_window_and_checked_at_the_end()
    {
        var inner = new ScriptedChatClient(SafeReply, chunkSize: 10);
        var guard = new MarkerGuard();
        IChatClient client = new ChatClientBuilder(inner).UseSafeRoute(guard, o => o.StreamingWindowChars = 30).Build();

        var text = new StringBuilder();
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync("What is the capital of France?"))
        {
            updates.Add(u);
            text.Append(u.Text);
        }

        int windows = SafeReply.Length / 30; // 102 chars in 10-char chunks: a check after 30, 60, 90 chars, then the final one
        Assert.Multiple(() =>
        {
            Assert.That(text.ToString(), Is.EqualTo(SafeReply));
            Assert.That(updates, Has.Count.EqualTo(inner.ChunkCount + 1));
            Assert.That(updates[^1].FinishReason, Is.EqualTo(ChatFinishReason.Stop));
            Assert.That(guard.Requests, Has.Count.EqualTo(1 + windows + 1));
            Assert.That(guard.Requests[^1].Response, Is.EqualTo(SafeReply), "the final check sees the whole reply");
            Assert.That(guard.Requests[1].Response, Is.EqualTo(SafeReply[..30]));
        });
    }

    [Test]
    public async Task A_block_mid_stream_ends_the_stream_with_a_content_filter_update_and_never_releases_the_window()
    {
        string reply = new string('a', 40) + " " + MarkerGuard.Marker + " " + new string('b', 200);
        var inner = new ScriptedChatClient(reply, chunkSize: 10);
        IChatClient client = new ChatClientBuilder(inner).UseSafeRoute(new MarkerGuard(), o => o.StreamingWindowChars = 20).Build();

        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync("hi"))
        {
            updates.Add(u);
        }

        string released = string.Concat(updates.Take(updates.Count - 1).Select(u => u.Text));
        Assert.Multiple(() =>
        {
            Assert.That(released, Is.EqualTo(new string('a', 40)), "only windows that passed were released");
            Assert.That(released, Does.Not.Contain(MarkerGuard.Marker));
            Assert.That(updates[^1].FinishReason, Is.EqualTo(ChatFinishReason.ContentFilter));
            Assert.That(updates[^1].Text, Is.EqualTo(new SafeRouteChatOptions().BlockedMessage));
            Assert.That(updates[^1].AdditionalProperties![SafeRouteChatClient.VerdictKey], Is.InstanceOf<SafetyVerdict>());
            Assert.That(inner.ChunksRead, Is.LessThan(inner.ChunkCount), "the inner stream is not read to the end");
        });
    }

    [Test]
    public async Task A_window_the_guard_saw_only_in_the_cut_out_middle_of_a_long_reply_is_checked_on_its_own()
    {
        // The guard sees 50 + 50 characters of a longer reply. The marker starts 1 character into the window checked at
        // 180 characters, so it is neither in the head (0-50) nor in the tail (130-180) of that whole-reply check.
        string reply = new string('a', 121) + MarkerGuard.Marker + new string('b', 170);
        var guard = new MarkerGuard { ContextChars = 100 };
        var inner = new ScriptedChatClient(reply, chunkSize: 60);
        IChatClient client = new ChatClientBuilder(inner).UseSafeRoute(guard, o => o.StreamingWindowChars = 60).Build();

        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync("hi"))
        {
            updates.Add(u);
        }

        string released = string.Concat(updates.Take(updates.Count - 1).Select(u => u.Text));
        Assert.Multiple(() =>
        {
            Assert.That(released, Does.Not.Contain("FORBID"), "no part of the marker reaches the user");
            Assert.That(updates[^1].FinishReason, Is.EqualTo(ChatFinishReason.ContentFilter));
            Assert.That(guard.Requests.Any(r => r.Response is { Length: <= 100 } part && part.Contains(MarkerGuard.Marker, StringComparison.Ordinal)),
                Is.True, "the held window was checked on its own");
        });
    }

    [TestCase(SafeRouteChatFailureMode.Block)]
    [TestCase(SafeRouteChatFailureMode.Allow)]
    [TestCase(SafeRouteChatFailureMode.Throw)]
    public async Task A_window_longer_than_the_guards_context_is_a_failure_the_failure_mode_decides(SafeRouteChatFailureMode mode)
    {
        string reply = new string('a', 400);
        var guard = new MarkerGuard { ContextChars = 100 };
        IChatClient client = new ChatClientBuilder(new ScriptedChatClient(reply, chunkSize: 200))
            .UseSafeRoute(guard, o => { o.StreamingWindowChars = 200; o.FailureMode = mode; }).Build();

        var updates = new List<ChatResponseUpdate>();
        async Task ReadAsync()
        {
            await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync("hi"))
            {
                updates.Add(u);
            }
        }

        if (mode == SafeRouteChatFailureMode.Throw)
        {
            var ex = Assert.ThrowsAsync<SafeRouteException>(ReadAsync);
            Assert.That(ex!.Message, Does.Contain("StreamingWindowChars"));
            Assert.That(updates, Is.Empty, "nothing was released before the failure");
            return;
        }

        await ReadAsync();
        if (mode == SafeRouteChatFailureMode.Allow)
        {
            Assert.That(string.Concat(updates.Select(u => u.Text)), Is.EqualTo(reply));
        }
        else
        {
            Assert.That(updates, Has.Count.EqualTo(1));
            Assert.That(updates[0].FinishReason, Is.EqualTo(ChatFinishReason.ContentFilter));
            Assert.That(((SafeRouteChatBlock)updates[0].AdditionalProperties![SafeRouteChatClient.BlockKey]!).Failure, Is.InstanceOf<SafeRouteException>());
        }
    }

    [Test]
    public async Task A_blocked_streaming_prompt_yields_one_update_and_no_inner_call()
    {
        var inner = new ScriptedChatClient(SafeReply);
        IChatClient client = new ChatClientBuilder(inner).UseSafeRoute(new MarkerGuard()).Build();
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync(MarkerGuard.Marker))
        {
            updates.Add(u);
        }

        Assert.Multiple(() =>
        {
            Assert.That(inner.Calls, Is.Zero);
            Assert.That(updates, Has.Count.EqualTo(1));
            Assert.That(updates[0].FinishReason, Is.EqualTo(ChatFinishReason.ContentFilter));
        });
    }

    [Test]
    public async Task UseSafeRoute_resolves_the_routed_guard_from_DI_with_the_default_models()
    {
        var services = new ServiceCollection();
        services.AddSafeRoute(o => o.WarmUp = false);
        services.AddChatClient(new ScriptedChatClient(SafeReply)).UseSafeRoute();
        await using ServiceProvider sp = services.BuildServiceProvider();
        IChatClient client = sp.GetRequiredService<IChatClient>();

        ChatResponse response = await client.GetResponseAsync("What is the capital of France?");
        Assert.Multiple(() =>
        {
            Assert.That(client.GetService<SafeRouteChatClient>(), Is.Not.Null);
            var verdict = (SafetyVerdict)response.AdditionalProperties![SafeRouteChatClient.PromptVerdictKey]!;
            Assert.That(verdict.RouterScore, Is.Not.Null, "the routed guard decided");
            Assert.That(response.AdditionalProperties.ContainsKey(SafeRouteChatClient.ResponseVerdictKey) || response.FinishReason == ChatFinishReason.ContentFilter, Is.True);
        });
    }

    [Test]
    public void Bad_options_are_rejected()
    {
        Assert.That(() => new SafeRouteChatClient(new ScriptedChatClient("x"), new MarkerGuard(), new SafeRouteChatOptions { StreamingWindowChars = 0 }), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void BlockedLog_NamesOnlyFlaggedCategoryCodes()
    {
        SafetyVerdict Verdict(params CategoryScore[]? categories) => new() { IsUnsafe = true, UnsafeProbability = 0.9f, DecidedBy = GuardTier.Large, Categories = categories };
        Assert.Multiple(() =>
        {
            Assert.That(SafeRouteChatClient.FlaggedCategories(Verdict(null)), Is.EqualTo("none"));
            Assert.That(SafeRouteChatClient.FlaggedCategories(Verdict(new CategoryScore("S1", 0.2f, false))), Is.EqualTo("none"));
            Assert.That(SafeRouteChatClient.FlaggedCategories(Verdict(new CategoryScore("S1", 0.7f, true), new CategoryScore("S2", 0.1f, false), new CategoryScore("S9", 0.6f, true))), Is.EqualTo("S1,S9"));
        });
    }
}
