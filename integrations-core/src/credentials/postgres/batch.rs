//! Concurrent calls of one kind gathered into one statement.
//!
//! Many callers asking at once (a [`TokenManager`] on each of several
//! replicas, every one asking for the same expired tokens) cost a query
//! each, and a query's fixed cost (a round trip, parsing, a backend's
//! wake-up) is most of what a read or a compare-and-swap of one row costs.
//! A [`Batcher`] sends a call at once when fewer than [`IN_FLIGHT`]
//! statements of its kind run (one: the fewest statements, and the most
//! throughput in the replicas bench, beside two and four); past that,
//! calls wait and the next statement carries all of them (up to
//! [`MAX_BATCH`]). A lone caller waits for nothing, and many callers share
//! a few statements.
//!
//! The statements run on tasks the store owns, not in the callers'
//! futures: a caller that gives up cannot cancel a statement others wait
//! for, nor leave a write half-known. Two calls for the same row never
//! share a statement (the second waits for the next), so each call's
//! answer is its own.
//!
//! [`TokenManager`]: crate::credentials::TokenManager

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::oneshot;
use tokio_util::task::TaskTracker;

use crate::error::Error;
use crate::id::{ConnectionId, TenantId};

/// How many statements of one kind a store runs at once, from one pool.
pub(super) const IN_FLIGHT: usize = 1;

/// The most calls one statement carries.
pub(super) const MAX_BATCH: usize = 512;

/// A call about one row.
pub(super) trait Call: Send + 'static {
    /// The row the call is about.
    fn row(&self) -> (&TenantId, &ConnectionId);
}

impl Call for (TenantId, ConnectionId) {
    fn row(&self) -> (&TenantId, &ConnectionId) {
        (&self.0, &self.1)
    }
}

/// Runs a batch: one answer per call, in the calls' order.
type Run<C, A> = Box<dyn Fn(Vec<C>) -> BoxFuture<'static, Result<Vec<A>, String>> + Send + Sync>;

/// Gathers calls of one kind into statements run by `run`.
pub(super) struct Batcher<C, A> {
    shared: Arc<Shared<C, A>>,
}

struct Shared<C, A> {
    operation: &'static str,
    queue: Mutex<Queue<C, A>>,
    run: Run<C, A>,
    tasks: TaskTracker,
}

struct Queue<C, A> {
    waiting: Vec<(C, oneshot::Sender<Result<A, String>>)>,
    running: usize,
}

impl<C: Call, A: Send + 'static> Batcher<C, A> {
    /// A batcher for `operation` (named in errors) whose statements run on
    /// `tasks`.
    pub(super) fn new(
        operation: &'static str,
        tasks: TaskTracker,
        run: impl Fn(Vec<C>) -> BoxFuture<'static, Result<Vec<A>, String>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                operation,
                queue: Mutex::new(Queue {
                    waiting: Vec::new(),
                    running: 0,
                }),
                run: Box::new(run),
                tasks,
            }),
        }
    }

    /// Makes `call` in the next statement and returns its answer.
    pub(super) async fn call(&self, call: C) -> Result<A, Error> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = lock(&self.shared.queue);
            queue.waiting.push((call, answer));
            let start = queue.running < IN_FLIGHT;
            if start {
                queue.running += 1;
            }
            start
        };
        if start {
            let shared = Arc::clone(&self.shared);
            self.shared.tasks.spawn(async move { shared.drain().await });
        }
        let operation = self.shared.operation;
        match answered.await {
            Ok(answer) => answer.map_err(|message| Error::store(operation, message)),
            Err(_) => Err(Error::store(
                operation,
                "the store stopped before answering",
            )),
        }
    }
}

impl<C: Call, A: Send + 'static> Shared<C, A> {
    /// Runs statements while calls wait; one of at most [`IN_FLIGHT`].
    async fn drain(&self) {
        let mut running = Running {
            shared: self,
            counted_down: false,
        };
        loop {
            let batch = self.next_batch(&mut running.counted_down);
            if batch.is_empty() {
                return;
            }
            tracing::trace!(
                operation = self.operation,
                calls = batch.len(),
                "credentials: one statement"
            );
            let (calls, answers): (Vec<C>, Vec<_>) = batch.into_iter().unzip();
            // A panic fails this statement's calls, not the task: calls
            // queued meanwhile still get a statement.
            let outcome = AssertUnwindSafe((self.run)(calls))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err("the statement failed unexpectedly".to_owned()));
            match outcome {
                Ok(results) => {
                    debug_assert_eq!(results.len(), answers.len());
                    for (answer, result) in answers.into_iter().zip(results) {
                        // A caller that gave up does not hear its answer.
                        let _ = answer.send(Ok(result));
                    }
                }
                Err(message) => {
                    for answer in answers {
                        let _ = answer.send(Err(message.clone()));
                    }
                }
            }
        }
    }

    /// Takes the waiting calls for the next statement: at most
    /// [`MAX_BATCH`], one per row; the rest stay for the next. None left:
    /// this task stops running (`counted_down`).
    fn next_batch(&self, counted_down: &mut bool) -> Vec<(C, oneshot::Sender<Result<A, String>>)> {
        let mut queue = lock(&self.queue);
        let mut rows = HashSet::new();
        let mut batch = Vec::new();
        let mut later = Vec::new();
        for waiting in queue.waiting.drain(..) {
            let (tenant, connection) = waiting.0.row();
            if batch.len() < MAX_BATCH && rows.insert((tenant.clone(), connection.clone())) {
                batch.push(waiting);
            } else {
                later.push(waiting);
            }
        }
        queue.waiting = later;
        if batch.is_empty() {
            // Counted down under the same lock that found nothing to run,
            // so a call queued after this starts a statement of its own.
            queue.running -= 1;
            *counted_down = true;
        }
        batch
    }
}

/// Counts a draining task down if it ends before finding the queue empty
/// (the runtime shutting down), so later calls still start statements.
struct Running<'a, C, A> {
    shared: &'a Shared<C, A>,
    counted_down: bool,
}

impl<C, A> Drop for Running<'_, C, A> {
    fn drop(&mut self) {
        if !self.counted_down {
            lock(&self.shared.queue).running -= 1;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    type Row = (TenantId, ConnectionId);
    /// The calls of each statement run, by connection name.
    type Statements = Arc<Mutex<Vec<Vec<String>>>>;

    fn row(name: &str) -> Row {
        (
            TenantId::new("t").unwrap(),
            ConnectionId::new("p", name).unwrap(),
        )
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Answer,
        Fail,
        /// The first [`IN_FLIGHT`] statements panic, the others answer.
        PanicFirst,
    }

    /// A batcher whose statements take `pause`, answer each call with its
    /// connection's name (or as `mode` says), and record their calls.
    fn recording(pause: Duration, mode: Mode) -> (Batcher<Row, String>, Statements) {
        let statements: Statements = Arc::default();
        let seen = Arc::clone(&statements);
        let batcher = Batcher::new("test", TaskTracker::new(), move |rows: Vec<Row>| {
            let seen = Arc::clone(&seen);
            Box::pin(async move {
                let names: Vec<String> = rows.iter().map(|r| r.1.name().to_owned()).collect();
                let first = {
                    let mut seen = lock(&seen);
                    seen.push(names.clone());
                    seen.len() <= IN_FLIGHT
                };
                tokio::time::sleep(pause).await;
                match mode {
                    Mode::Fail => Err("the database went away".to_owned()),
                    Mode::PanicFirst if first => panic!("a bug in a statement"),
                    _ => Ok(names),
                }
            }) as BoxFuture<'static, _>
        });
        (batcher, statements)
    }

    #[tokio::test]
    async fn concurrent_calls_share_statements_and_each_gets_its_own_answer() {
        let (batcher, statements) = recording(Duration::from_millis(20), Mode::Answer);
        let calls = (0..200).map(|n| {
            let batcher = &batcher;
            async move { (n, batcher.call(row(&format!("c{n}"))).await.unwrap()) }
        });
        for (n, answer) in futures_util::future::join_all(calls).await {
            assert_eq!(answer, format!("c{n}"));
        }
        let statements = lock(&statements);
        let calls: usize = statements.iter().map(Vec::len).sum();
        assert_eq!(calls, 200, "every call made once");
        assert!(
            statements.len() <= IN_FLIGHT,
            "200 calls in {} statements",
            statements.len()
        );
    }

    #[tokio::test]
    async fn calls_for_one_row_never_share_a_statement() {
        let (batcher, statements) = recording(Duration::from_millis(1), Mode::Answer);
        let calls = (0..10).map(|_| batcher.call(row("same")));
        for answer in futures_util::future::join_all(calls).await {
            assert_eq!(answer.unwrap(), "same");
        }
        let statements = lock(&statements);
        assert_eq!(statements.len(), 10);
        assert!(statements.iter().all(|rows| rows.len() == 1));
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_leaves_the_statement_to_finish_for_the_others() {
        let (batcher, statements) = recording(Duration::from_millis(50), Mode::Answer);
        // Fill the statements in flight, so the next two wait together.
        let busy: Vec<_> = (0..IN_FLIGHT)
            .map(|n| batcher.call(row(&format!("busy{n}"))))
            .collect();
        let busy = futures_util::future::join_all(busy);
        let waits = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let gives_up = tokio::time::timeout(Duration::from_millis(45), batcher.call(row("a")));
            let stays = batcher.call(row("b"));
            tokio::join!(gives_up, stays)
        };
        let (answers, (gave_up, stayed)) = tokio::join!(busy, waits);
        assert!(answers.into_iter().all(|a| a.is_ok()));
        assert!(gave_up.is_err(), "the first caller timed out");
        assert_eq!(stayed.unwrap(), "b");
        let shared = lock(&statements)
            .iter()
            .any(|rows| rows.contains(&"a".to_owned()) && rows.contains(&"b".to_owned()));
        assert!(shared, "both went in one statement, which ran to the end");
    }

    #[tokio::test]
    async fn a_failed_statement_fails_every_call_in_it_with_the_reason() {
        let (batcher, _) = recording(Duration::from_millis(5), Mode::Fail);
        let calls = (0..20).map(|n| batcher.call(row(&format!("c{n}"))));
        for answer in futures_util::future::join_all(calls).await {
            let message = crate::error::error_chain(&answer.unwrap_err());
            assert!(message.contains("the database went away"), "{message}");
            assert!(message.contains("test"), "{message}");
        }
    }

    #[tokio::test]
    async fn a_statement_that_panics_fails_its_calls_and_the_others_still_run() {
        let (batcher, _) = recording(Duration::from_millis(20), Mode::PanicFirst);
        // The first statements panic; calls queued while they run, and
        // calls made after, are answered.
        let first = (0..IN_FLIGHT).map(|n| batcher.call(row(&format!("first{n}"))));
        let queued = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let calls = (0..3).map(|n| batcher.call(row(&format!("queued{n}"))));
            futures_util::future::join_all(calls).await
        };
        let (first, queued) = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::future::join(futures_util::future::join_all(first), queued),
        )
        .await
        .expect("every call is answered");
        for error in first {
            let error = error.unwrap_err();
            assert!(
                crate::error::error_chain(&error).contains("failed unexpectedly"),
                "{error}"
            );
        }
        assert!(queued.into_iter().all(|a| a.is_ok()));
        assert_eq!(batcher.call(row("after")).await.unwrap(), "after");
    }

    #[test]
    fn a_runtime_that_stops_mid_statement_leaves_the_batcher_usable() {
        let (batcher, _) = recording(Duration::from_millis(50), Mode::Answer);
        let first = tokio::runtime::Runtime::new().unwrap();
        first.block_on(async {
            // The statement starts, and its runtime goes before it ends.
            let _ = tokio::time::timeout(Duration::from_millis(10), batcher.call(row("cut"))).await;
        });
        first.shutdown_background();
        let second = tokio::runtime::Runtime::new().unwrap();
        let answer = second.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), batcher.call(row("next"))).await
        });
        assert_eq!(answer.expect("a statement starts").unwrap(), "next");
    }
}
