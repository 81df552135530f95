using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using System.Diagnostics.Metrics;

namespace SafeRoute.Tests.Integrations;

/// <summary>The "SafeRoute" meter, spans and logs of the routed guard, read in memory (default models, real ONNX sessions).</summary>
[NonParallelizable]
public sealed class TelemetryTests
{
    private static readonly SafetyRequest[] Inputs = [new("What is the capital of France?"), new("Write a haiku about autumn leaves.")];

    [Test]
    public async Task Everything_routed_is_counted_by_tier_with_durations_and_batch_size()
    {
        await using ServiceProvider sp = Provider(threshold: -1f, policy: LargeGuardFailurePolicy.FailClosed, failingLarge: false, out _);
        IMeterFactory meters = sp.GetRequiredService<IMeterFactory>();
        using var requests = new MetricCollector<long>(meters, "SafeRoute", "saferoute.requests");
        using var verdicts = new MetricCollector<long>(meters, "SafeRoute", "saferoute.verdicts");
        using var duration = new MetricCollector<double>(meters, "SafeRoute", "saferoute.guard.duration");
        using var batch = new MetricCollector<int>(meters, "SafeRoute", "saferoute.batch.size");

        await sp.GetRequiredService<ISafetyGuard>().EvaluateBatchAsync(Inputs);

        Assert.Multiple(() =>
        {
            Assert.That(Sum(requests, "saferoute.routed", true), Is.EqualTo(2));
            Assert.That(Sum(requests, "saferoute.routed", false), Is.Zero);
            Assert.That(verdicts.GetMeasurementSnapshot().Where(m => Equals(m.Tags["saferoute.tier"], "large")).Sum(m => m.Value), Is.EqualTo(2));
            Assert.That(duration.GetMeasurementSnapshot().Select(m => m.Tags["saferoute.tier"]), Is.EquivalentTo(new[] { "small", "large" }));
            Assert.That(duration.GetMeasurementSnapshot().All(m => m.Value > 0), Is.True);
            Assert.That(batch.LastMeasurement?.Value, Is.EqualTo(2));
        });
    }

    [Test]
    public async Task Nothing_routed_is_counted_as_small_tier_verdicts()
    {
        await using ServiceProvider sp = Provider(threshold: 1e9f, policy: LargeGuardFailurePolicy.FailClosed, failingLarge: false, out _);
        IMeterFactory meters = sp.GetRequiredService<IMeterFactory>();
        using var requests = new MetricCollector<long>(meters, "SafeRoute", "saferoute.requests");
        using var verdicts = new MetricCollector<long>(meters, "SafeRoute", "saferoute.verdicts");
        using var duration = new MetricCollector<double>(meters, "SafeRoute", "saferoute.guard.duration");

        await sp.GetRequiredService<ISafetyGuard>().EvaluateBatchAsync(Inputs);

        Assert.Multiple(() =>
        {
            Assert.That(Sum(requests, "saferoute.routed", false), Is.EqualTo(2));
            Assert.That(Sum(requests, "saferoute.routed", true), Is.Zero);
            Assert.That(verdicts.GetMeasurementSnapshot().All(m => Equals(m.Tags["saferoute.tier"], "small")), Is.True);
            Assert.That(duration.GetMeasurementSnapshot().Select(m => m.Tags["saferoute.tier"]), Is.EquivalentTo(new[] { "small" }));
        });
    }

    [TestCase(LargeGuardFailurePolicy.FailClosed)]
    [TestCase(LargeGuardFailurePolicy.FallBackToSmall)]
    [TestCase(LargeGuardFailurePolicy.Throw)]
    public async Task Large_guard_failures_are_counted_by_policy_and_logged_without_user_text(LargeGuardFailurePolicy policy)
    {
        await using ServiceProvider sp = Provider(threshold: -1f, policy, failingLarge: true, out List<string> logs);
        using var failures = new MetricCollector<long>(sp.GetRequiredService<IMeterFactory>(), "SafeRoute", "saferoute.large_guard.failures");
        using var verdicts = new MetricCollector<long>(sp.GetRequiredService<IMeterFactory>(), "SafeRoute", "saferoute.verdicts");
        ISafetyGuard guard = sp.GetRequiredService<ISafetyGuard>();
        if (policy == LargeGuardFailurePolicy.Throw)
        {
            Assert.That(async () => await guard.EvaluateBatchAsync(Inputs), Throws.InvalidOperationException);
        }
        else
        {
            await guard.EvaluateBatchAsync(Inputs);
            Assert.That(verdicts.GetMeasurementSnapshot().Where(m => Equals(m.Tags["saferoute.outcome"], "degraded")).Sum(m => m.Value), Is.EqualTo(2));
        }

        Assert.Multiple(() =>
        {
            Assert.That(Sum(failures, "saferoute.policy", policy.ToString()), Is.EqualTo(2));
            Assert.That(logs, Has.Some.Contains("large guard failed"));
            Assert.That(logs.Any(l => Inputs.Any(i => l.Contains(i.Prompt, StringComparison.Ordinal))), Is.False, "no user text in logs");
        });
    }

    [Test]
    public async Task Spans_cover_the_small_guard_the_router_and_the_large_guard()
    {
        var names = new List<string>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "SafeRoute",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                lock (names)
                {
                    names.Add(a.DisplayName);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using ServiceProvider sp = Provider(threshold: -1f, LargeGuardFailurePolicy.FailClosed, failingLarge: false, out _);
        await sp.GetRequiredService<ISafetyGuard>().EvaluateAsync(Inputs[0]);
        Assert.That(names, Is.SupersetOf(new[] { "SafeRoute small guard", "SafeRoute router", "SafeRoute large guard" }));
    }

    private static long Sum<T>(MetricCollector<T> collector, string tag, object value)
        where T : struct =>
        collector.GetMeasurementSnapshot().Where(m => Equals(m.Tags[tag], value)).Sum(m => Convert.ToInt64(m.Value, System.Globalization.CultureInfo.InvariantCulture));

    private static ServiceProvider Provider(float threshold, LargeGuardFailurePolicy policy, bool failingLarge, out List<string> logs)
    {
        var captured = new List<string>();
        logs = captured;
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new ListLoggerProvider(captured)));
        void Configure(SafeRouteOptions o)
        {
            o.Threshold = threshold;
            o.FailurePolicy = policy;
            o.WarmUp = false;
        }

        if (failingLarge)
        {
            services.AddSafeRoute(Configure, _ => new FailingGuard());
        }
        else
        {
            services.AddSafeRoute(Configure);
        }

        return services.BuildServiceProvider();
    }

    private sealed class FailingGuard : ISafetyGuard
    {
        public ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<SafetyVerdict>(new InvalidOperationException("large tier unavailable"));

        public ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<IReadOnlyList<SafetyVerdict>>(new InvalidOperationException("large tier unavailable"));
    }

    private sealed class ListLoggerProvider(List<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new ListLogger(lines);

        public void Dispose()
        {
        }

        private sealed class ListLogger(List<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (lines)
                {
                    lines.Add(formatter(state, exception));
                }
            }
        }
    }
}
