//! Back-off between attempts: exponential with full jitter, capped.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The wait after the first failure, before jitter.
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(5),
            max: Duration::from_secs(60 * 60),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): `base · 2^(attempt-1)`, capped at
    /// `max`, times a factor in [0.5, 1.0) from `unit_random` (in [0, 1)) so that jobs that
    /// failed together do not retry together.
    pub fn delay(&self, attempt: i32, unit_random: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).clamp(0, 30) as u32;
        let raw = self.base.saturating_mul(2u32.saturating_pow(exponent));
        let capped = raw.min(self.max);
        capped.mul_f64(0.5 + unit_random.clamp(0.0, 1.0) / 2.0)
    }
}

/// A uniformly distributed number in [0, 1) from the OS random source.
pub fn unit_random() -> f64 {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).expect("the OS random source is available");
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_jitter_stays_in_range() {
        let policy = RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        assert_eq!(policy.delay(1, 1.0), Duration::from_secs(2));
        assert_eq!(policy.delay(2, 1.0), Duration::from_secs(4));
        assert_eq!(policy.delay(3, 1.0), Duration::from_secs(8));
        assert_eq!(policy.delay(10, 1.0), Duration::from_secs(60));
        assert_eq!(policy.delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(policy.delay(i32::MAX, 0.5), Duration::from_secs(45));
        for _ in 0..100 {
            let d = policy.delay(3, unit_random());
            assert!(
                d >= Duration::from_secs(4) && d < Duration::from_secs(8),
                "{d:?}"
            );
        }
    }
}
