//! Rate limits on the account endpoints, per client IP and per account, with `governor`
//! (GCRA: a steady refill with a burst allowance, no timers of our own).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// What is being attempted; each has its own budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    LogIn,
    SignUp,
    PasswordReset,
}

pub struct RateLimits {
    log_in_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    log_in_per_account: DefaultKeyedRateLimiter<String>,
    sign_up_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    reset_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    reset_per_account: DefaultKeyedRateLimiter<String>,
    /// Mails (verification or reset) one address may receive; over it, mails are skipped
    /// silently so nobody can flood an inbox through us.
    mail_per_account: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).expect("non-zero quota"))
}

fn per_hour(n: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(n).expect("non-zero quota"))
}

impl Default for RateLimits {
    /// The budgets, documented in the README ("Accounts"):
    /// log in 10/min per IP and 5/min per account; sign up 20/h per IP;
    /// password reset 5/min per IP and 5/h per account; 5 mails/h per address.
    fn default() -> Self {
        RateLimits {
            log_in_per_ip: DefaultKeyedRateLimiter::keyed(per_minute(10)),
            log_in_per_account: DefaultKeyedRateLimiter::keyed(per_minute(5)),
            sign_up_per_ip: DefaultKeyedRateLimiter::keyed(per_hour(20)),
            reset_per_ip: DefaultKeyedRateLimiter::keyed(per_minute(5)),
            reset_per_account: DefaultKeyedRateLimiter::keyed(per_hour(5)),
            mail_per_account: DefaultKeyedRateLimiter::keyed(per_hour(5)),
            clock: DefaultClock::default(),
        }
    }
}

impl RateLimits {
    /// Takes one attempt from the budgets of this IP and (when known) account; `Err` carries
    /// how long to wait before the next attempt can succeed.
    pub fn check(
        &self,
        attempt: Attempt,
        ip: IpAddr,
        account: Option<&str>,
    ) -> Result<(), Duration> {
        let (per_ip, per_account) = match attempt {
            Attempt::LogIn => (&self.log_in_per_ip, Some(&self.log_in_per_account)),
            Attempt::SignUp => (&self.sign_up_per_ip, None),
            Attempt::PasswordReset => (&self.reset_per_ip, Some(&self.reset_per_account)),
        };
        per_ip
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))?;
        if let (Some(limiter), Some(account)) = (per_account, account) {
            limiter
                .check_key(&account.to_owned())
                .map_err(|not_until| not_until.wait_time_from(self.clock.now()))?;
        }
        Ok(())
    }

    /// Whether another mail may go to this address now.
    pub fn may_mail(&self, address: &str) -> bool {
        self.mail_per_account.check_key(&address.to_owned()).is_ok()
    }

    /// Drops the state of keys whose budget is full again, so memory stays bounded.
    pub fn forget_idle_keys(&self) {
        self.log_in_per_ip.retain_recent();
        self.log_in_per_account.retain_recent();
        self.sign_up_per_ip.retain_recent();
        self.reset_per_ip.retain_recent();
        self.reset_per_account.retain_recent();
        self.mail_per_account.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_login_from_one_ip_within_a_minute_waits() {
        let limits = RateLimits::default();
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        for n in 0..10 {
            // A different account each time: only the IP budget is spent.
            limits
                .check(Attempt::LogIn, ip, Some(&format!("user{n}@example.com")))
                .unwrap();
        }
        let wait = limits
            .check(Attempt::LogIn, ip, Some("other@example.com"))
            .unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        // Another IP is unaffected.
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        assert!(
            limits
                .check(Attempt::LogIn, other, Some("x@example.com"))
                .is_ok()
        );
    }

    #[test]
    fn one_account_is_limited_across_ips() {
        let limits = RateLimits::default();
        for n in 0..5u8 {
            let ip = IpAddr::from([198, 51, 100, n]);
            limits
                .check(Attempt::LogIn, ip, Some("victim@example.com"))
                .unwrap();
        }
        let ip = IpAddr::from([198, 51, 100, 200]);
        assert!(
            limits
                .check(Attempt::LogIn, ip, Some("victim@example.com"))
                .is_err()
        );
    }
}
