//! Waiting for a future at most so long, without tokio's timer: the
//! runtime being dumped may have been built without one.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    /// The time is up.
    expired: bool,
    /// The future finished first: the timer thread may go.
    finished: bool,
    waker: Option<Waker>,
}

/// `future`'s output, or `None` if it is not ready within `limit`. The
/// timer is a thread that leaves as soon as either happens.
pub(crate) async fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let shared = Arc::new(Shared::default());
    let timer = shared.clone();
    std::thread::Builder::new()
        .name("leakwatch-dump-timer".into())
        .spawn(move || {
            let state = timer.state.lock().unwrap_or_else(PoisonError::into_inner);
            let (mut state, _) = timer
                .done
                .wait_timeout_while(state, limit, |s| !s.finished)
                .unwrap_or_else(PoisonError::into_inner);
            if !state.finished {
                state.expired = true;
                if let Some(waker) = state.waker.take() {
                    waker.wake();
                }
            }
        })
        .ok()?;
    let mut future = pin!(future);
    let out = std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.expired {
            return Poll::Ready(None);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    })
    .await;
    shared
        .state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .finished = true;
    shared.done.notify_all();
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::within;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_ready_future_gives_its_output() {
        let started = Instant::now();
        assert_eq!(
            block_on(within(Duration::from_secs(30), async { 7 })),
            Some(7)
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_future_that_never_ends_gives_none_after_the_limit() {
        let started = Instant::now();
        let out = block_on(within(
            Duration::from_millis(50),
            std::future::pending::<()>(),
        ));
        assert_eq!(out, None);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
