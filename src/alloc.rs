//! Allocator settings for the programs that run on mimalloc: the `triage`
//! command and the benchmarks, whose figures are the command's.

use std::os::raw::c_long;

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_purge_delay`: its place in `mi_option_e` (mimalloc.h, version 2).
const PURGE_DELAY: mi_option_t = 15;

/// How long memory freed by the program stays with it before mimalloc returns it
/// to the OS, in milliseconds (mimalloc's default is 10).
///
/// Compiling a large pack frees and allocates again hundreds of megabytes of
/// temporaries within a second. Returned after 10 ms, that memory comes back as
/// fresh pages that the kernel zeroes again: about a fifth of a 10,000-intent
/// load (BENCHMARKS.md). A second covers a load.
const PURGE_DELAY_MS: c_long = 1_000;

/// Names under which mimalloc reads the purge delay from the environment.
const PURGE_DELAY_VARS: [&str; 2] = ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"];

/// Applies the settings above, unless the environment sets the purge delay
/// (which then wins). Call it first thing in `main`, before any thread starts.
pub fn tune_mimalloc() {
    if PURGE_DELAY_VARS
        .iter()
        .any(|v| std::env::var_os(v).is_some())
    {
        return;
    }
    // SAFETY: sets one integer option of the linked mimalloc; the index is in
    // range (checked against mimalloc's default in the tests). The option
    // functions are not synchronized, so this runs before other threads start.
    unsafe { mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) }
}

/// The purge delay mimalloc is using, in milliseconds.
pub fn purge_delay_ms() -> c_long {
    // SAFETY: reads one option of the linked mimalloc.
    unsafe { mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        if PURGE_DELAY_VARS
            .iter()
            .any(|v| std::env::var_os(v).is_some())
        {
            return;
        }
        // Version 2, and the option at that place has the purge delay's default:
        // the index names the purge delay, not a neighbour.
        let version = unsafe { libmimalloc_sys::mi_version() };
        // (2.3.2 reads 20302.)
        assert!(
            (20_000..30_000).contains(&version),
            "mimalloc {version}: check PURGE_DELAY against its mimalloc.h"
        );
        assert_eq!(purge_delay_ms(), 10);
        tune_mimalloc();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }
}
