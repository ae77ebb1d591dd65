//! Stage timings on stderr when `MAILOPS_TIMINGS` is set (for benchmarks).

/// Whether timings are asked for.
pub(crate) fn enabled() -> bool {
    std::env::var_os("MAILOPS_TIMINGS").is_some()
}

/// Prints the time since the last lap, per named stage.
pub(crate) struct StageTimer {
    last: Option<std::time::Instant>,
}

impl StageTimer {
    pub(crate) fn from_env() -> Self {
        StageTimer {
            last: enabled().then(std::time::Instant::now),
        }
    }

    pub(crate) fn lap(&mut self, stage: &str) {
        if let Some(last) = self.last {
            let now = std::time::Instant::now();
            eprintln!("timing: {stage:<14} {:>8.3} s", (now - last).as_secs_f64());
            self.last = Some(now);
        }
    }
}
