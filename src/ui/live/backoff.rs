//! Reconnection delays: exponential backoff with full jitter (0.5 s doubling to a 30 s
//! cap), counted in attempts since the last `hello`. Pure: the random number comes in
//! from the caller (`Math.random()` in the browser, fixed values in tests).

const BACKOFF_BASE_MS: f64 = 500.0;
const BACKOFF_CAP_MS: f64 = 30_000.0;
/// No retry sooner than this, however small the random draw.
const BACKOFF_FLOOR_MS: f64 = 100.0;

/// Attempts to reconnect since the last `hello` (or since the user asked for one).
#[derive(Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// Counts one more attempt and returns how long to wait before it, in ms.
    /// Full jitter: a random delay in [0, min(cap, base·2^attempt)] (`random` in [0, 1)).
    pub fn next_delay(&mut self, random: f64) -> f64 {
        self.attempt = self.attempt.saturating_add(1);
        let ceiling =
            (BACKOFF_BASE_MS * 2f64.powi(self.attempt.min(16) as i32)).min(BACKOFF_CAP_MS);
        (random * ceiling).max(BACKOFF_FLOOR_MS)
    }

    /// Starts over (a `hello`, or the network or the tab came back).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// A reconnect, not the first attempt after a page load (which stays quiet).
    pub fn retrying(&self) -> bool {
        self.attempt > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_from_one_second_to_the_cap() {
        let mut b = Backoff::default();
        // With the largest draw the delay is the ceiling itself.
        let ceilings: Vec<f64> = (0..8).map(|_| b.next_delay(1.0)).collect();
        assert_eq!(
            ceilings,
            [1_000.0, 2_000.0, 4_000.0, 8_000.0, 16_000.0, 30_000.0, 30_000.0, 30_000.0]
        );
    }

    #[test]
    fn jitter_scales_the_ceiling_and_never_goes_below_the_floor() {
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(0.5), 500.0);
        assert_eq!(b.next_delay(0.25), 500.0);
        assert_eq!(b.next_delay(0.0), 100.0);
        assert_eq!(b.next_delay(0.01), 100.0);
    }

    #[test]
    fn many_attempts_stay_at_the_cap() {
        let mut b = Backoff::default();
        for _ in 0..1_000 {
            b.next_delay(0.0);
        }
        assert_eq!(b.next_delay(0.999), 30_000.0 * 0.999);
    }

    #[test]
    fn reset_starts_over_and_the_first_attempt_is_quiet() {
        let mut b = Backoff::default();
        assert!(!b.retrying());
        b.next_delay(1.0);
        b.next_delay(1.0);
        assert!(b.retrying());
        b.reset();
        assert!(!b.retrying());
        assert_eq!(b.next_delay(1.0), 1_000.0);
    }
}
