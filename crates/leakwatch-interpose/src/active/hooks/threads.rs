//! Threads: their creation, start and end.

use super::*;

/// `pthread_create`: runs the thread through [`trampoline`], which records
/// its id, makes its creator's scope current in it, and sees it finish.
///
/// # Safety
/// As for libc's `pthread_create`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_create(
    thread: *mut pthread_t,
    attr: *const pthread_attr_t,
    start: StartRoutine,
    arg: *mut c_void,
) -> c_int {
    // Before the process has a second thread, whose locks a forked child
    // could inherit held.
    real::resolve_all();
    // Made before the thread is marked busy: making a scope allocates.
    let own = main_spawn_scope();
    let claimed = Busy::enter().and_then(|_busy| {
        let creation = Creation::here(Call::PthreadCreate);
        let i = claim(&THREADS, &THREAD_HINT)?;
        *THREAD_SCOPES[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = own.unwrap_or(creation.scope);
        *OWN_SCOPES[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = own;
        let g = crate::active::tally::lock(&THREADS[i]);
        creation.write(&g, 0, State::Live);
        g.set_start(start, arg);
        Some(i)
    });
    let Some(i) = claimed else {
        if let Some(scope) = own {
            // The thread cannot be given it: ended unused.
            end_scope(scope);
        }
        // SAFETY: forwards the caller's arguments unchanged.
        return unsafe { real::pthread_create()(thread, attr, start, arg) };
    };
    // SAFETY: the caller's arguments, except that the thread runs
    // `trampoline` with its slot number, from which it takes `start` and
    // `arg` before anything else.
    let rc = unsafe {
        real::pthread_create()(
            thread,
            attr,
            trampoline,
            std::ptr::without_provenance_mut(i),
        )
    };
    if rc != 0
        && let Some(_busy) = Busy::tables()
    {
        free(&THREADS, i);
    }
    rc
}

/// A hooked thread's start: `slot` is its index in `THREADS`.
extern "C" fn trampoline(slot: *mut c_void) -> *mut c_void {
    let i = slot.addr();
    // `pthread_create` wrote the start routine before starting this
    // thread, and the slot stays claimed until this thread frees it.
    let (start, arg) = THREADS[i]
        .read()
        .start()
        .expect("a hooked thread's record holds its start routine");
    if let Some(_busy) = Busy::tables() {
        let g = crate::active::tally::lock(&THREADS[i]);
        g.set_subject(my_tid() as u32 as u64);
        g.set_state(State::Running);
    }
    let _ = MY_SLOT.try_with(|s| s.set(i));
    let scope = *THREAD_SCOPES[i]
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let own = OWN_SCOPES[i]
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    let _ = OWN_SCOPE.try_with(|mine| mine.set(own));
    // No destructor may be pending across `start`: a thread that calls
    // `pthread_exit` (or is cancelled) unwinds through this frame by a
    // forced unwind, which must find nothing to run here.
    let in_scope = std::mem::ManuallyDrop::new(
        (scope != leakwatch_core::ScopeId::NONE).then(|| scope.enter()),
    );
    let result = start(arg);
    drop(std::mem::ManuallyDrop::into_inner(in_scope));
    thread_finished();
    end_own_scope();
    result
}

/// Frees the calling thread's slot, if it has one.
fn thread_finished() {
    let Some(_busy) = Busy::tables() else { return };
    if let Ok(i) = MY_SLOT.try_with(|s| s.replace(usize::MAX))
        && i != usize::MAX
    {
        free(&THREADS, i);
    }
}

/// `pthread_exit`: the thread's start routine will not return.
///
/// # Safety
/// As for libc's `pthread_exit`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_exit(value: *mut c_void) -> ! {
    thread_finished();
    end_own_scope();
    // SAFETY: forwards the caller's argument unchanged.
    unsafe { real::pthread_exit()(value) }
}
