//! How the step's work is executed: the pool a simulation runs on ([`pool`]), where the ledger's
//! blocks are sealed ([`Sealer`], [`beside`]), and the pacing between the step's parallel
//! regions and that sealing ([`Pace`]). Domains get a [`Pace`] handle and hand it closures; pools
//! are built and jobs spawned only here (a domain may still split its own loops with rayon's
//! parallel iterators inside a region, on whatever pool it runs on).
//!
//! With [`Sealer::Pool`] the ledger's blocks are sealed by a job on the step's own rayon pool (see
//! `ledger::chain`), so on 2 cores the pool's second thread hashes while the step runs its
//! serial systems. When the step splits work over the pool (the AC sweep's feeders, the two
//! sides' limiters and settlements, a batch of load noise), that thread should take its share at once: so the step
//! counts its open regions here, and the hashing looks at the count between small pieces of
//! work (about 10 µs each) and, when a region is open, runs the step's pending work first
//! (`rayon::yield_now`), so the two never take turns on one core through the scheduler. Each
//! simulation has its own count, shared with its own ledger.

use bevy::prelude::Resource;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Where a ledger's blocks are hashed, signed and written. Both give the same chain, byte for
/// byte (tested).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sealer {
    /// On the step's own thread, as each block is sealed: the plain reference, and what tests
    /// use unless they test the other.
    #[default]
    Inline,
    /// By a drain job on the step's rayon pool, beside the step, in the time its parallel regions
    /// leave free (`peergrid run` and the demo).
    Pool,
}

/// The pool a command runs its simulations on: `threads` threads (at least one). A simulation's
/// step runs on one of its threads and splits its regions over the rest.
pub fn pool(threads: usize) -> Result<rayon::ThreadPool, String> {
    rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().map_err(|e| format!("cannot start {threads} threads: {e}"))
}

/// The memory this process may use: the machine's (`MemTotal`), or less where its cgroup sets a
/// limit (`memory.max` in v2, `memory.limit_in_bytes` in v1). `None` where neither can be read.
pub fn memory_allowed_bytes() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
    });
    let cgroup = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|t| t.trim().parse::<u64>().ok());
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

/// Runs `job` beside the step, on the pool the caller runs on (the sealing's drain job).
pub fn beside(job: impl FnOnce() + Send + 'static) {
    rayon::spawn(job);
}

/// A simulation's count of open parallel regions, shared with its ledger.
#[derive(Resource, Debug, Clone, Default)]
pub struct Pace(Arc<AtomicUsize>);

impl Pace {
    /// Runs `f`, work the step splits over its pool, as a region: while it runs, the ledger's
    /// hashing runs the pool's pending work at each look.
    pub fn region<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Open<'a>(&'a AtomicUsize);
        impl Drop for Open<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Release);
            }
        }
        self.0.fetch_add(1, Ordering::Acquire);
        let _open = Open(&self.0);
        f()
    }

    /// Runs two independent pieces of the step's work side by side on the pool, as a region.
    pub fn join<A: Send, B: Send>(&self, a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
        self.region(|| rayon::join(a, b))
    }

    /// Called by the ledger between pieces of work: if a region is open, runs one piece of the
    /// pool's pending work (if any) before going on.
    pub fn step_aside(&self) {
        if self.open_regions() > 0 {
            rayon::yield_now();
        }
    }

    /// Regions open now.
    pub fn open_regions(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_open_while_it_runs_and_closed_after_even_on_panic() {
        let pace = Pace::default();
        assert_eq!(pace.region(|| pace.open_regions()), 1);
        assert_eq!(pace.open_regions(), 0);
        let shared = pace.clone();
        assert!(std::panic::catch_unwind(move || shared.region(|| panic!("inside"))).is_err());
        assert_eq!(pace.open_regions(), 0);
    }
}
