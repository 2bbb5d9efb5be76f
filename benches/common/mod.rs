//! Helpers shared by the benchmarks (each uses some of them).
#![allow(dead_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Mean seconds per pass, measured for about `budget` (at least three passes).
pub fn time_per_pass(budget: Duration, mut pass: impl FnMut() -> usize) -> f64 {
    black_box(pass());
    let start = Instant::now();
    let mut passes = 0u32;
    while start.elapsed() < budget || passes < 3 {
        black_box(pass());
        passes += 1;
    }
    start.elapsed().as_secs_f64() / passes as f64
}

/// The `p` quantile (0–1) of sorted latencies: the smallest one at least that share of all
/// is not above.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}
