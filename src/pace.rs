//! Pacing between the step's parallel regions and the ledger's background hashing.
//!
//! The ledger's threads hash blocks beside the simulation at the lowest priority. When the step
//! splits work over the `--threads` pool (the AC sweep's feeders, the two limiters, a batch of
//! load noise), the pool's second thread needs a core, and a ledger thread often has it: the
//! idle pool thread spins with `sched_yield` before it sleeps, and a yield can hand the core to
//! the running ledger thread until the kernel next switches, so the step did most of its
//! regions alone (the pool's second thread did 8.3 s of the district year's work with the
//! ledger on, 11.4 s with it off). So the step counts its open regions here, and the ledger
//! looks at the count between small pieces of work (about 10 µs each) and yields its core once
//! when a region is open: a pool thread waiting for that core gets it, and when none is, the
//! ledger goes on at once (waiting until the region closed burned the core for nothing when
//! the pool thread was elsewhere, and slowed the 100,000-house city by 4%). Each simulation has
//! its own count, shared with its own ledger.

use bevy::prelude::Resource;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A simulation's count of open parallel regions, shared with its ledger's threads.
#[derive(Resource, Debug, Clone, Default)]
pub struct Pace(Arc<AtomicUsize>);

impl Pace {
    /// Runs `f`, work the step splits over its pool, as a region: while it runs, the ledger
    /// yields its core at each look.
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

    /// Called by the ledger between pieces of work: yields the core once if a region is open.
    pub fn step_aside(&self) {
        if self.open_regions() > 0 {
            std::thread::yield_now();
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
