namespace SafeRoute.Onnx;

/// <summary>
/// Counts the calls that are using an object's native resources and lets its disposal wait for them: each call
/// <see cref="TryEnter"/>s (refused once disposal has begun) and <see cref="Exit"/>s in a <see langword="finally"/>;
/// <see cref="Close"/> refuses new calls and <see cref="Drained"/> completes once the last call in flight has left.
/// One <see cref="Interlocked"/> operation per enter and per exit, no locks.
/// </summary>
internal sealed class InFlightGate
{
    /// <summary>The bit that marks the gate closed; the bits below it count the calls inside.</summary>
    private const int ClosedBit = 1 << 30;

    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;

    /// <summary>Gets whether <see cref="Close"/> has been called.</summary>
    public bool IsClosed => (Volatile.Read(ref _state) & ClosedBit) != 0;

    /// <summary>Gets how many calls are inside.</summary>
    public int Count => Volatile.Read(ref _state) & (ClosedBit - 1);

    /// <summary>Gets a task that completes once the gate is closed and no call is inside (its continuations run
    /// asynchronously, never on the thread of the last call out).</summary>
    public Task Drained => _drained.Task;

    /// <summary>Enters the gate; false (and not entered) once it is closed.</summary>
    public bool TryEnter()
    {
        if ((Interlocked.Increment(ref _state) & ClosedBit) != 0)
        {
            Exit();
            return false;
        }

        return true;
    }

    /// <summary>Leaves the gate after a successful <see cref="TryEnter"/>.</summary>
    public void Exit()
    {
        if (Interlocked.Decrement(ref _state) == ClosedBit)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Closes the gate: later <see cref="TryEnter"/> calls fail. True for the first call only.</summary>
    public bool Close()
    {
        int before = Interlocked.Or(ref _state, ClosedBit);
        if ((before & ClosedBit) != 0)
        {
            return false;
        }

        if (before == 0)
        {
            _drained.TrySetResult();
        }

        return true;
    }
}
