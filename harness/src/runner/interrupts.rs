//! What stops a run early: the process's one interrupt watch (Ctrl-C or
//! SIGTERM; a second one exits at once), the run's own time limit as one
//! more interrupt, and the wait for the first of them that every phase
//! and workload races against what it does.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// The interrupts, and the run's own deadline as one more: past `limit`
/// the run stops as it does on Ctrl-C. The flag says the deadline fired.
pub(super) fn with_deadline(
    mut interrupts: watch::Receiver<Option<String>>,
    limit: Duration,
) -> (
    watch::Receiver<Option<String>>,
    Arc<std::sync::atomic::AtomicBool>,
) {
    let (tx, rx) = watch::channel(None);
    let overran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = overran.clone();
    tokio::spawn(async move {
        let why = tokio::select! {
            why = interrupted(interrupts.clone()) => why,
            _ = tokio::time::sleep(limit) => {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                format!(
                    "it overran its time limit of {}",
                    humantime::format_duration(limit)
                )
            }
            // Every receiver gone: the run ended.
            _ = tx.closed() => return,
        };
        let _ = tx.send(Some(why));
        // Later interrupts still reach the run (a second Ctrl-C).
        while interrupts.changed().await.is_ok() {
            let again = interrupts.borrow().clone();
            if again.is_some() && tx.send(again).is_err() {
                return;
            }
        }
    });
    (rx, overran)
}

/// The process's one interrupt watch: it turns to Some, with a reason, on
/// Ctrl-C or SIGTERM. A second one exits at once: the children still die,
/// because they watch their stdin pipe and asked for a parent-death signal.
/// Call it inside the runtime.
pub fn interrupts() -> watch::Receiver<Option<String>> {
    static WATCH: std::sync::OnceLock<watch::Receiver<Option<String>>> = std::sync::OnceLock::new();
    WATCH.get_or_init(watch_interrupts).clone()
}

fn watch_interrupts() -> watch::Receiver<Option<String>> {
    let (tx, rx) = watch::channel(None);
    // Ctrl-C through the ctrlc crate, installed here first: goose, which a
    // load phase embeds, installs its own Ctrl-C handler with ctrlc, and
    // that one stops goose alone and would leave the run unhealed. ctrlc
    // allows one handler per process, so once the harness holds it,
    // goose's attempt fails and every Ctrl-C comes here.
    let (ctrl_c_tx, mut ctrl_c) = tokio::sync::mpsc::unbounded_channel::<()>();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = ctrl_c_tx.send(());
    }) {
        eprintln!("harness: cannot catch Ctrl-C: {e}");
    }
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut next = async || -> &'static str {
            tokio::select! {
                Some(()) = ctrl_c.recv() => "Ctrl-C",
                _ = async {
                    match &mut term {
                        Some(t) => { t.recv().await; }
                        None => std::future::pending().await,
                    }
                } => "SIGTERM",
            }
        };
        let first = next().await;
        let _ = tx.send(Some(first.to_string()));
        let second = next().await;
        eprintln!("harness: {second} again: exiting now");
        std::process::exit(crate::exit::ENVIRONMENT.into());
    });
    rx
}

/// Resolves with the reason once an interrupt has arrived.
pub async fn interrupted(mut rx: watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(why) = rx.borrow().clone() {
            return why;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
