//! Progress on a terminal for the long stages (parsing every tenant file,
//! resolving every DNS record, …): one line on stderr with what is being
//! done, a bar where the count is known, and the elapsed time, shown while
//! the stage runs and cleared when it ends, before anything else is printed.
//! Nothing at all unless `main` turned it on: stderr is a terminal,
//! `--quiet` was not given and `MAILOPS_NO_PROGRESS` is unset. Stages never
//! print; they only move this line, from any thread.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static ENABLED: AtomicBool = AtomicBool::new(false);
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Turn progress on for this process.
pub(crate) fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether progress is shown.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A stage starts: `total` steps (a bar), or an unknown number (a spinner).
/// End it with [`finish`].
pub(crate) fn stage(name: &str, total: Option<usize>) {
    if !enabled() {
        return;
    }
    let bar = ProgressBar::with_draw_target(total.map(|t| t as u64), ProgressDrawTarget::stderr());
    let template = match total {
        Some(_) => "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} ({elapsed})",
        None => "{spinner} {msg} ({elapsed})",
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(name.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    if let Some(old) = BAR.lock().unwrap_or_else(|p| p.into_inner()).replace(bar) {
        old.finish_and_clear();
    }
}

/// One step of the stage done.
pub(crate) fn step() {
    if !enabled() {
        return;
    }
    if let Some(bar) = BAR.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        bar.inc(1);
    }
}

/// `n` steps of the stage done.
pub(crate) fn advance(n: usize) {
    if !enabled() {
        return;
    }
    if let Some(bar) = BAR.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        bar.inc(n as u64);
    }
}

/// The stage ended: its line is cleared.
pub(crate) fn finish() {
    if !enabled() {
        return;
    }
    if let Some(bar) = BAR.lock().unwrap_or_else(|p| p.into_inner()).take() {
        bar.finish_and_clear();
    }
}
