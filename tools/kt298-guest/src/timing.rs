// SPDX-License-Identifier: GPL-2.0

//! The arithmetic of the tools' timed loops (`CLOCK_MONOTONIC`, through [`Instant`]).

use std::time::{
    Duration,
    Instant, //
};

/// Nanoseconds per operation when `n` operations took `d` (no operations count as one).
pub fn ns_per(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n.max(1) as f64
}

/// Microseconds per operation when `n` operations took `d` (no operations count as one).
pub fn us_per(d: Duration, n: u64) -> f64 {
    ns_per(d, n) / 1000.0
}

/// Calls `f` `n` times; returns the time the calls took.
pub fn time(n: u64, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed()
}

/// Calls `f(i)` for `i` in `0..n`, stopping at the first error, which says which call
/// failed (`what #i: error`); returns the time the calls took.
pub fn repeat<E: std::fmt::Display>(
    n: u64,
    what: &str,
    mut f: impl FnMut(u64) -> Result<(), E>,
) -> Result<Duration, String> {
    let start = Instant::now();
    for i in 0..n {
        f(i).map_err(|e| format!("{what} #{i}: {e}"))?;
    }
    Ok(start.elapsed())
}

/// The smallest of `rounds` measurements `f(round)`.
pub fn best_of<E>(rounds: usize, mut f: impl FnMut(usize) -> Result<f64, E>) -> Result<f64, E> {
    (0..rounds).try_fold(f64::MAX, |best, r| Ok(best.min(f(r)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_operation() {
        let d = Duration::from_micros(1500);
        assert_eq!(ns_per(d, 3), 500_000.0);
        assert_eq!(us_per(d, 3), 500.0);
        assert_eq!(us_per(d, 0), 1500.0);
    }

    #[test]
    fn times_n_calls() {
        let mut calls = 0;
        let d = time(3, || {
            calls += 1;
            std::thread::sleep(Duration::from_millis(2));
        });
        assert_eq!(calls, 3);
        assert!(d >= Duration::from_millis(6));
    }

    #[test]
    fn repeats_until_an_error() {
        let mut calls = 0;
        assert!(repeat(5, "op", |_| -> Result<(), String> {
            calls += 1;
            Ok(())
        })
        .is_ok());
        assert_eq!(calls, 5);
        let e = repeat(5, "op", |i| if i == 2 { Err("no") } else { Ok(()) }).unwrap_err();
        assert_eq!(e, "op #2: no");
    }

    #[test]
    fn best() {
        let v = [3.0, 1.0, 2.0];
        assert_eq!(best_of(3, |r| Ok::<_, ()>(v[r])), Ok(1.0));
        assert_eq!(
            best_of(3, |r| if r == 1 { Err(r) } else { Ok(0.0) }),
            Err(1)
        );
    }
}
