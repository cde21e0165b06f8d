//! SIGINT and SIGTERM during a run: the first stops the run gracefully (no new case starts,
//! the running ones finish, the reports are written from the run log); a second stops the
//! process at once (the log still holds every finished case, for `report rebuild`).
//!
//! Through tokio's signal driver on a thread of its own: a handler that only wakes a task
//! is async-signal-safe, and the engine's runtime is not up yet when the watch starts.

use super::{warn, Exit};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};

/// Whether a signal arrived since [`watch`].
pub struct Watch {
    interrupted: Arc<AtomicBool>,
}

impl Watch {
    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

/// Catches SIGINT and SIGTERM from now on; the first sets `stop`.
pub fn watch(stop: Arc<AtomicBool>) -> Watch {
    let interrupted = Arc::new(AtomicBool::new(false));
    let watch = Watch {
        interrupted: interrupted.clone(),
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        warn("warning: cannot watch for SIGINT/SIGTERM; an interrupt stops the run at once");
        return watch;
    };
    // Registered here, before returning, so no early signal slips past.
    let streams = runtime.block_on(async {
        Some((
            signal(SignalKind::interrupt()).ok()?,
            signal(SignalKind::terminate()).ok()?,
        ))
    });
    let Some((mut int, mut term)) = streams else {
        warn("warning: cannot watch for SIGINT/SIGTERM; an interrupt stops the run at once");
        return watch;
    };
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let mut count = 0;
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                count += 1;
                if count == 1 {
                    interrupted.store(true, Ordering::SeqCst);
                    stop.store(true, Ordering::SeqCst);
                    warn(
                        "\ninterrupted: no new case starts; the running ones finish, then the \
                         reports are written (interrupt again to stop at once)",
                    );
                } else {
                    warn(
                        "stopped at once: the run log keeps every finished case; \
                         `myna-hil report rebuild OUT` writes the reports",
                    );
                    std::process::exit(Exit::Interrupted as i32);
                }
            }
        });
    });
    watch
}
