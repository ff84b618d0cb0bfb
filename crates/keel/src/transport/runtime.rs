//! The runtime Keel owns for blocking callers.
//!
//! A blocking call runs the same async pipeline as `send().await`, as a
//! task on this runtime ([`call`]); the caller's thread waits for its
//! answer. The call and the connection tasks it creates then run on the
//! runtime's worker, so a connection is back in the pool before the caller
//! sends its next request. Connections made by blocking callers live on
//! this runtime, those made by async callers on theirs; all of them sit in
//! the one pool of the client family. Reading a streamed body chunk by
//! chunk polls it on the caller's thread ([`block_on`]).

use std::future::Future;
use std::sync::OnceLock;

use crate::error::{Error, Result};

static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    RUNTIME
        .get_or_init(|| {
            let workers = std::thread::available_parallelism()
                .map(|n| n.get().clamp(1, 4))
                .unwrap_or(1);
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name("keel-runtime")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            Error::config(format!(
                "could not start Keel's runtime for blocking calls: {e}"
            ))
        })
}

/// Whether the current thread is inside an async runtime (where blocking
/// would stall it).
pub(crate) fn in_async_context() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// Runs `fut` to completion on the calling thread, inside Keel's runtime.
/// Fails with [`Error::BlockingInAsync`] inside an async runtime.
pub(crate) fn block_on<F: Future>(fut: F) -> Result<F::Output> {
    if in_async_context() {
        return Err(Error::BlockingInAsync);
    }
    Ok(runtime()?.block_on(fut))
}

/// The runtime that must own a new connection — its socket (registered with
/// that runtime's I/O driver when it is made) and its task — when it is not
/// the caller's. A connection lives on the caller's runtime when that is a
/// multi-thread one (its workers drive it whether or not the caller waits),
/// and otherwise on Keel's own: a `current_thread` runtime runs only while
/// something blocks on it, so a connection parked there would hang a caller
/// on another thread (a blocking caller, or another runtime) that takes it
/// from the family's shared pool.
pub(crate) fn connection_home() -> Option<tokio::runtime::Handle> {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            return None;
        }
    }
    match runtime() {
        Ok(rt) => Some(rt.handle().clone()),
        Err(e) => {
            // Fall back to the caller's runtime, if any: better than none.
            tracing::warn!(error = %e, "Keel's runtime is unavailable; connections stay on the caller's runtime");
            None
        }
    }
}

/// Spawns the pool's connection tasks where [`connection_home`] says.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Executor;

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        match connection_home() {
            Some(home) => {
                home.spawn(fut);
            }
            None => match tokio::runtime::Handle::try_current() {
                Ok(here) => {
                    here.spawn(fut);
                }
                // Without any runtime the connection cannot be driven; the
                // request that needed it fails ("dispatch task is gone").
                Err(_) => tracing::warn!("no runtime to drive a connection"),
            },
        }
    }
}

/// Runs `fut` as a task on Keel's runtime and waits for its output on the
/// calling thread. Fails with [`Error::BlockingInAsync`] inside an async
/// runtime.
pub(crate) fn call<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if in_async_context() {
        return Err(Error::BlockingInAsync);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A request's future is several KiB; boxed, the task holds a pointer
    // instead of copying the whole state machine into its cell (callgrind:
    // most of the blocking path's extra instructions were that memcpy).
    let fut = Box::pin(fut);
    runtime()?.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.blocking_recv().map_err(|_| {
        Error::request("the blocking call's task ended without an answer (it panicked)")
    })
}
