//! Helpers shared by the benchmarks.

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
