//! auth-failures: `auth_failures` or more 401/403/407 answered to one client within the window
//! with no success in between (a wrong password, or someone guessing one).

use std::net::IpAddr;

use super::{armed, ns, Engine, Line, Severity};
use crate::time::Ts;

impl Engine {
    /// A final answer `status` to `client` (whose entry exists).
    pub(super) fn auth_failures(&mut self, client: IpAddr, status: u16, ts: Ts, line: &Line<'_>) {
        let width = ns(self.cfg.window_s);
        let Some(c) = self.sources.get_mut(&client) else {
            return;
        };
        match status {
            200..=299 => c.auth_fail.clear(),
            401 | 403 | 407 => {
                c.auth_fail.push_back(ts);
                while c.auth_fail.front().is_some_and(|t| ts.since(*t) > width) {
                    c.auth_fail.pop_front();
                }
                let n = c.auth_fail.len() as u64;
                if n >= self.cfg.auth_failures && armed(&mut c.fired, "auth-failures", ts, width) {
                    self.raise(
                        "auth-failures",
                        Severity::Critical,
                        ts,
                        None,
                        Some(client.to_string()),
                        format!(
                            "{n} × 401/403/407 to {client} in {:.0} s without a success",
                            self.cfg.window_s
                        ),
                        Some(line.owned()),
                        "a wrong password or a brute-force attempt: check the account and the source",
                    );
                }
            }
            _ => {}
        }
    }
}
