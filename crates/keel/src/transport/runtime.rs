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
    runtime()?.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.blocking_recv().map_err(|_| {
        Error::request("the blocking call's task ended without an answer (it panicked)")
    })
}
