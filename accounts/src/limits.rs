//! Rate limits on the account endpoints, per client network (an IPv4 address, an IPv6 /64:
//! one subscriber gets a whole /64, so single v6 addresses cost an attacker nothing) with
//! `governor` (GCRA: a steady refill with a burst allowance, no timers of our own); and, per
//! account, a growing delay after failed logins instead of a lockout anyone could trigger.
//! The state is per process (documented: replicas each keep their own).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    login_failures: Mutex<HashMap<FailureKey, Failures>>,
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
    /// log in 10/min per network (and the growing delay per account, see `login_backoff`);
    /// sign up 20/h per network; password reset 5/min per network and 5/h per account;
    /// 5 mails/h per address.
    fn default() -> Self {
        RateLimits {
            log_in_per_ip: DefaultKeyedRateLimiter::keyed(per_minute(10)),
            login_failures: Mutex::new(HashMap::new()),
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
        let ip = network_of(ip);
        let (per_ip, per_account) = match attempt {
            Attempt::LogIn => (&self.log_in_per_ip, None),
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

    /// `Err(wait)` while failed logins to `account` hold its next attempt back: from the
    /// client's network after `FREE_FAILURES_PER_NETWORK` failures (doubling each time, up to
    /// 15 minutes), and from anywhere after `FREE_FAILURES_PER_ACCOUNT` (up to a minute, so a
    /// distributed guesser gains little and the owner waits at most that long).
    pub fn login_backoff(&self, account: &str, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let failures = self.login_failures.lock().expect("login failures lock");
        let wait = [
            (FailureKey::from_network(account, ip), PER_NETWORK),
            (FailureKey::account(account), PER_ACCOUNT),
        ]
        .into_iter()
        .filter_map(|(key, policy)| failures.get(&key).map(|f| policy.wait(f, now)))
        .max()
        .unwrap_or_default();
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Records a failed login of `account` from `ip`.
    pub fn login_failed(&self, account: &str, ip: IpAddr) {
        let now = Instant::now();
        let mut failures = self.login_failures.lock().expect("login failures lock");
        for key in [
            FailureKey::from_network(account, ip),
            FailureKey::account(account),
        ] {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
    }

    /// A correct password clears the account's failures.
    pub fn login_succeeded(&self, account: &str, ip: IpAddr) {
        let mut failures = self.login_failures.lock().expect("login failures lock");
        failures.remove(&FailureKey::from_network(account, ip));
        failures.remove(&FailureKey::account(account));
    }

    /// Drops the state of keys whose budget is full again, so memory stays bounded.
    pub fn forget_idle_keys(&self) {
        self.log_in_per_ip.retain_recent();
        let now = Instant::now();
        self.login_failures
            .lock()
            .expect("login failures lock")
            .retain(|_, f| now.duration_since(f.last) < FORGET_FAILURES_AFTER);
        self.sign_up_per_ip.retain_recent();
        self.reset_per_ip.retain_recent();
        self.reset_per_account.retain_recent();
        self.mail_per_account.retain_recent();
    }
}

/// The part of an address one subscriber controls: an IPv4 address, or an IPv6 /64 (an
/// IPv4-mapped IPv6 address counts as its IPv4 address).
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FailureKey {
    account: String,
    /// `None`: the account's failures from every network together.
    network: Option<IpAddr>,
}

impl FailureKey {
    fn from_network(account: &str, ip: IpAddr) -> FailureKey {
        FailureKey {
            account: account.to_owned(),
            network: Some(network_of(ip)),
        }
    }

    fn account(account: &str) -> FailureKey {
        FailureKey {
            account: account.to_owned(),
            network: None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// How failures turn into a wait: free ones first, then one second doubling up to `max`.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    free: u32,
    max: Duration,
}

const PER_NETWORK: Backoff = Backoff {
    free: 3,
    max: Duration::from_secs(15 * 60),
};
const PER_ACCOUNT: Backoff = Backoff {
    free: 20,
    max: Duration::from_secs(60),
};
/// Failures this old are forgotten (a fresh start for a returning user).
const FORGET_FAILURES_AFTER: Duration = Duration::from_secs(3600);

impl Backoff {
    fn delay(self, count: u32) -> Duration {
        if count < self.free {
            return Duration::ZERO;
        }
        let doublings = (count - self.free).min(20);
        Duration::from_secs(1u64 << doublings).min(self.max)
    }

    fn wait(self, failures: &Failures, now: Instant) -> Duration {
        (failures.last + self.delay(failures.count)).saturating_duration_since(now)
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
    fn failed_logins_delay_the_guessing_network_more_and_more_but_not_the_owner() {
        let limits = RateLimits::default();
        let attacker: IpAddr = "203.0.113.7".parse().unwrap();
        let owner: IpAddr = "198.51.100.20".parse().unwrap();
        let account = "tenant/victim@example.com";
        let mut waits = Vec::new();
        for _ in 0..6 {
            limits.login_failed(account, attacker);
            waits.push(
                limits
                    .login_backoff(account, attacker)
                    .err()
                    .unwrap_or_default(),
            );
        }
        // Three free failures, then 1 s, 2 s, 4 s, 8 s.
        assert!(waits[..2].iter().all(Duration::is_zero), "{waits:?}");
        assert!(waits.windows(2).skip(2).all(|w| w[1] > w[0]), "{waits:?}");
        assert!(waits[5] > Duration::from_secs(4), "{waits:?}");
        // The owner, on another network, is not held back by someone else's guesses.
        assert!(limits.login_backoff(account, owner).is_ok());
        // Another account is unaffected, and a success clears the failures.
        assert!(
            limits
                .login_backoff("tenant/other@example.com", attacker)
                .is_ok()
        );
        limits.login_succeeded(account, attacker);
        assert!(limits.login_backoff(account, attacker).is_ok());
    }

    #[test]
    fn many_networks_together_slow_an_account_down_at_most_a_minute() {
        let limits = RateLimits::default();
        let account = "tenant/victim@example.com";
        for n in 0..60u8 {
            limits.login_failed(account, IpAddr::from([198, 51, 100, n]));
        }
        let wait = limits
            .login_backoff(account, "192.0.2.1".parse().unwrap())
            .unwrap_err();
        assert!(
            wait > Duration::from_secs(30) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
    }

    #[test]
    fn ipv6_clients_share_their_64_budget() {
        let limits = RateLimits::default();
        for n in 0..10u16 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, n, n, n, n));
            limits.check(Attempt::LogIn, ip, None).unwrap();
        }
        let same_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 9, 9, 9, 99));
        assert!(limits.check(Attempt::LogIn, same_64, None).is_err());
        let other_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert!(limits.check(Attempt::LogIn, other_64, None).is_ok());
        assert_eq!(
            network_of("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
