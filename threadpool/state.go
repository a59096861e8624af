package threadpool

// TaskState, embedded in a task's struct, lets Post catch the task being
// posted again while it is in flight — queued, running, or finished with
// its Done not yet called — the programming error nginx reports as "task
// #N already active". Without it such a Post is accepted: the pool's
// queue stays sound (it holds interface values, not links threaded
// through the task), but the task runs twice, possibly at once.
//
// The check is one type assertion and one bool: Post sets the flag, Drain
// clears it just before Done, and both run on the loop goroutine, so the
// flag needs no atomics and a pool goroutine never touches it.
type TaskState struct {
	inFlight bool
}

// InFlight reports whether the task was posted and its Done has not been
// called yet. Loop goroutine only.
func (s *TaskState) InFlight() bool { return s.inFlight }

func (s *TaskState) taskState() *TaskState { return s }

// stateful is a task that embeds TaskState.
type stateful interface {
	taskState() *TaskState
}

// stateOf returns t's TaskState, or nil if it has none.
func stateOf(t Task) *TaskState {
	if s, ok := t.(stateful); ok {
		return s.taskState()
	}
	return nil
}
