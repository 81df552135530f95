using SafeRoute.Text;

namespace SafeRoute.Onnx;

/// <summary>
/// Gathers concurrent single-input forward passes of one guard into batches (see <see cref="MicroBatchingOptions"/>).
/// One background loop takes up to MaxBatchSize waiting requests once the batch is full or the first of them has
/// waited MaxWait (measured with the injected <see cref="TimeProvider"/>) and runs them as one batch on the thread pool
/// (at most <c>concurrency</c> batches at once), completing each caller. A caller whose token is cancelled while queued is completed as cancelled at once and left out of the
/// batch; disposal waits for the batch in flight and fails every queued caller with <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed class MicroBatcher : IDisposable
{
    private readonly Func<EncodedPrompt[], bool, GuardOutput[]> _run;
    private readonly string _name;
    private readonly int _maxBatchSize;
    private readonly TimeSpan _maxWait;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly Queue<Pending> _queue = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly SemaphoreSlim _running;
    private readonly List<Task> _inFlight = [];
    private TaskCompletionSource _wake = NewSignal();
    private bool _disposed;
    private int _windowsOpened;

    public MicroBatcher(Func<EncodedPrompt[], bool, GuardOutput[]> run, string name, MicroBatchingOptions options, TimeProvider time, int concurrency)
    {
        _run = run;
        _name = name;
        _maxBatchSize = options.MaxBatchSize;
        _maxWait = options.MaxWait;
        _time = time;
        _running = new SemaphoreSlim(Math.Max(1, concurrency));
        // The loop and the batches it starts must not run in the execution context of whoever happened to create the
        // guard (in DI, the first request that resolved it): no Activity.Current or other async-local state of theirs.
        using (ExecutionContext.SuppressFlow())
        {
            _loop = Task.Run(LoopAsync);
        }
    }

    /// <summary>Gets how many requests are queued (cancelled ones included until the loop drops them).</summary>
    internal int QueuedCount
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Gets how many MaxWait windows the loop has opened (its timer is then set): tests wait for it before moving a fake clock.</summary>
    internal int WindowsOpened => Volatile.Read(ref _windowsOpened);

    /// <summary>Queues one encoded prompt; the task completes when its batch has run.</summary>
    public Task<GuardOutput> EnqueueAsync(EncodedPrompt prompt, bool wantFeatures, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new Pending(prompt, wantFeatures, _time.GetTimestamp());
        if (cancellationToken.CanBeCanceled)
        {
            pending.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((Pending)state!).Completion.TrySetCanceled(token), pending);
        }

        lock (_gate)
        {
            if (_disposed)
            {
                pending.Registration.Dispose();
                throw new ObjectDisposedException(_name);
            }

            _queue.Enqueue(pending);
            if (_queue.Count == 1 || _queue.Count >= _maxBatchSize)
            {
                _wake.TrySetResult();
            }
        }

        return pending.Completion.Task;
    }

    public void Dispose()
    {
        if (!BeginDispose())
        {
            return;
        }

        try
        {
            _loop.Wait();
            Task.WaitAll(InFlight());
        }
        catch (AggregateException)
        {
            // Neither the loop nor a batch faults (each batch's failure goes to its callers); nothing to report here.
        }

        EndDispose();
    }

    /// <summary>Like <see cref="Dispose"/>, but waits for the batches in flight without blocking a thread.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!BeginDispose())
        {
            return;
        }

        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(InFlight()).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        EndDispose();
    }

    /// <summary>Marks the batcher disposed and stops its loop; false when it already was.</summary>
    private bool BeginDispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return false;
            }

            _disposed = true;
            _wake.TrySetResult();
        }

        _stop.Cancel();
        return true;
    }

    private Task[] InFlight()
    {
        lock (_gate)
        {
            return [.. _inFlight];
        }
    }

    /// <summary>Fails the callers still queued and releases the batcher's resources.</summary>
    private void EndDispose()
    {
        lock (_gate)
        {
            while (_queue.TryDequeue(out Pending? pending))
            {
                pending.Completion.TrySetException(new ObjectDisposedException(_name, $"Guard model '{_name}' was disposed while this request waited for its batch."));
                pending.Registration.Dispose();
            }
        }

        _stop.Dispose();
        _running.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task LoopAsync()
    {
        var batch = new List<Pending>(_maxBatchSize);
        while (true)
        {
            Task wake;
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                if (_queue.Count > 0)
                {
                    wake = Task.CompletedTask;
                }
                else
                {
                    if (_wake.Task.IsCompleted)
                    {
                        _wake = NewSignal();
                    }

                    wake = _wake.Task;
                }
            }

            await wake.ConfigureAwait(false);
            if (_maxWait > TimeSpan.Zero)
            {
                await WaitForBatchAsync().ConfigureAwait(false);
            }

            // Wait for a free run slot before taking requests: while every slot is busy, requests keep queuing and
            // the next batch grows.
            try
            {
                await _running.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            lock (_gate)
            {
                if (_disposed)
                {
                    _running.Release();
                    return;
                }

                while (batch.Count < _maxBatchSize && _queue.TryDequeue(out Pending? pending))
                {
                    if (pending.Completion.Task.IsCompleted)
                    {
                        pending.Registration.Dispose(); // cancelled while queued
                    }
                    else
                    {
                        batch.Add(pending);
                    }
                }
            }

            if (batch.Count == 0)
            {
                _running.Release();
            }
            else
            {
                // Up to one batch per core runs at once, so batching adds to, not replaces, running on every core;
                // the loop gathers the next batch meanwhile.
                Pending[] taken = [.. batch];
                batch.Clear();
                Task run = Task.Run(() =>
                {
                    try
                    {
                        RunBatch(taken);
                    }
                    finally
                    {
                        _running.Release();
                    }
                });
                lock (_gate)
                {
                    _inFlight.Add(run);
                    _inFlight.RemoveAll(static t => t.IsCompleted);
                }
            }
        }
    }

    /// <summary>
    /// Waits until MaxBatchSize requests are queued, the oldest queued request has waited MaxWait, or the batcher is
    /// disposed. The window is measured from the oldest request's arrival, so a request left over from a full batch, or
    /// one that queued while every run slot was busy, never waits more than one MaxWait for company.
    /// </summary>
    private async Task WaitForBatchAsync()
    {
        TimeSpan remaining;
        lock (_gate)
        {
            if (!_queue.TryPeek(out Pending? oldest))
            {
                return;
            }

            remaining = _maxWait - _time.GetElapsedTime(oldest.Enqueued);
        }

        if (remaining <= TimeSpan.Zero)
        {
            return;
        }

        // Timers count whole milliseconds and truncate: 0.99 ms would not wait at all. Round up instead.
        remaining = TimeSpan.FromMilliseconds(Math.Ceiling(remaining.TotalMilliseconds));
        using var window = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        Task delay = Task.Delay(remaining, _time, window.Token);
        Interlocked.Increment(ref _windowsOpened);
        while (true)
        {
            Task full;
            lock (_gate)
            {
                if (_disposed || _queue.Count >= _maxBatchSize)
                {
                    break;
                }

                if (_wake.Task.IsCompleted)
                {
                    _wake = NewSignal();
                }

                full = _wake.Task;
            }

            if (await Task.WhenAny(delay, full).ConfigureAwait(false) == delay)
            {
                break;
            }
        }

        await window.CancelAsync().ConfigureAwait(false);
    }

    private void RunBatch(Pending[] batch)
    {
        var prompts = new EncodedPrompt[batch.Length];
        bool wantFeatures = false;
        for (int i = 0; i < prompts.Length; i++)
        {
            prompts[i] = batch[i].Prompt;
            wantFeatures |= batch[i].WantFeatures;
        }

        try
        {
            GuardOutput[] outputs = _run(prompts, wantFeatures);
            for (int i = 0; i < outputs.Length; i++)
            {
                batch[i].Completion.TrySetResult(outputs[i]);
            }
        }
#pragma warning disable CA1031 // Every failure of a batch belongs to its callers.
        catch (Exception ex) when (batch.Length > 1 && ex is not ObjectDisposedException)
        {
            // One bad row (say, non-finite logits) must not fail the strangers it was batched with: run each row on its
            // own so every caller gets the outcome its own request would have had. Costs a run per row, on failure only.
            foreach (Pending pending in batch)
            {
                try
                {
                    pending.Completion.TrySetResult(_run([pending.Prompt], pending.WantFeatures)[0]);
                }
                catch (Exception single)
                {
                    pending.Completion.TrySetException(single);
                }
            }
        }
        catch (Exception ex)
#pragma warning restore CA1031
        {
            foreach (Pending pending in batch)
            {
                pending.Completion.TrySetException(ex);
            }
        }
        finally
        {
            foreach (Pending pending in batch)
            {
                pending.Registration.Dispose();
            }
        }
    }

    private sealed class Pending(EncodedPrompt prompt, bool wantFeatures, long enqueued)
    {
        /// <summary>When the request was queued (the batcher's <see cref="TimeProvider"/> timestamp).</summary>
        public long Enqueued { get; } = enqueued;

        public EncodedPrompt Prompt { get; } = prompt;

        public bool WantFeatures { get; } = wantFeatures;

        public TaskCompletionSource<GuardOutput> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenRegistration Registration { get; set; }
    }
}
