//! The `FERROPTIM_*` environment variables. A value that cannot be used is ignored (the default
//! applies) and described once by [`take_warnings`], which the JS side turns into a process
//! warning; an empty value counts as unset.
//!
//! | variable | accepts | default |
//! |---|---|---|
//! | `FERROPTIM_NUM_THREADS` | an integer in [1, [`crate::pool::max_threads`]] | the available cores |
//! | `FERROPTIM_SIMD` | `avx512`, `avx2`, `baseline` (never above what the CPU supports) | the best level |
//! | `FERROPTIM_PAR_MIN` | an integer >= 0 (elements per step) | [`crate::driver::PAR_MIN`], or [`crate::driver::PAR_MIN_AWAKE`] while the helpers are awake |

use crate::simd::Level;
use std::sync::atomic::{AtomicBool, Ordering};

/// The raw value of `name`: `None` when unset or empty, `Err` when not valid Unicode.
fn raw(name: &str) -> Option<Result<String, String>> {
    match std::env::var(name) {
        Ok(s) if s.trim().is_empty() => None,
        Ok(s) => Some(Ok(s)),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(s)) => Some(Err(s.to_string_lossy().into_owned())),
    }
}

/// Reads `name` with `parse`; `Some(Err(value))` when it is set but unusable.
fn read<T>(name: &str, parse: impl Fn(&str) -> Option<T>) -> Option<Result<T, String>> {
    raw(name).map(|r| r.and_then(|s| parse(s.trim()).ok_or(s)))
}

fn parse_threads(s: &str) -> Option<usize> {
    s.parse::<usize>().ok().filter(|&n| (1..=crate::pool::max_threads()).contains(&n))
}

/// `FERROPTIM_NUM_THREADS`, if set to a usable value.
pub fn num_threads() -> Option<usize> {
    read("FERROPTIM_NUM_THREADS", parse_threads).and_then(Result::ok)
}

/// `FERROPTIM_SIMD`, if set to a level name.
pub fn simd() -> Option<Level> {
    read("FERROPTIM_SIMD", Level::parse).and_then(Result::ok)
}

/// `FERROPTIM_PAR_MIN`, if set to a usable value.
pub fn par_min() -> Option<usize> {
    read("FERROPTIM_PAR_MIN", |s| s.parse::<usize>().ok()).and_then(Result::ok)
}

/// What is wrong with each set but unusable `FERROPTIM_*` variable, and what applies instead.
pub fn problems() -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Err(v)) = read("FERROPTIM_NUM_THREADS", parse_threads) {
        out.push(format!(
            "FERROPTIM_NUM_THREADS={v:?} is ignored: expected an integer in [1, {}]; using {} threads (the available cores)",
            crate::pool::max_threads(),
            crate::pool::available_cores()
        ));
    }
    if let Some(Err(v)) = read("FERROPTIM_SIMD", Level::parse) {
        out.push(format!(
            "FERROPTIM_SIMD={v:?} is ignored: expected avx512, avx2 or baseline; using {} (the best this CPU supports)",
            crate::simd::detected().name()
        ));
    }
    if let Some(Err(v)) = read("FERROPTIM_PAR_MIN", |s| s.parse::<usize>().ok()) {
        out.push(format!("FERROPTIM_PAR_MIN={v:?} is ignored: expected an integer >= 0; using {}", crate::driver::PAR_MIN));
    }
    out
}

static TAKEN: AtomicBool = AtomicBool::new(false);

/// [`problems`] on the first call in the process, then nothing, so each is reported once even
/// when several JS realms (worker threads) load the addon.
pub fn take_warnings() -> Vec<String> {
    if TAKEN.swap(true, Ordering::Relaxed) {
        return Vec::new();
    }
    problems()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_counts_outside_the_bound_are_unusable() {
        assert_eq!(parse_threads("2"), Some(2));
        assert_eq!(parse_threads("0"), None);
        assert_eq!(parse_threads("-1"), None);
        assert_eq!(parse_threads("1.5"), None);
        assert_eq!(parse_threads(&(crate::pool::max_threads() + 1).to_string()), None);
    }
}
