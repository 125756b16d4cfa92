//! How statistics are cut (`stats --peers`, `--local`, `--interval`): address blocks, named
//! peers, the direction of a call relative to the local networks, and the key of each group.

use std::net::{IpAddr, SocketAddr};

use crate::time::{Nanos, Ts};

/// An address block: `10.0.0.0/8`, `192.0.2.7` (a /32), `2001:db8::/32`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    pub fn parse(s: &str) -> Option<Net> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Net { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Names for peers (trunks, SBCs, customers): `CIDR=NAME`, `ADDR=NAME` or `ADDR:PORT=NAME` per
/// line, `#` starts a comment. The most specific entry wins: a port match, then the longest prefix.
#[derive(Clone, Debug, Default)]
pub struct PeerMap {
    entries: Vec<(Net, Option<u16>, String)>,
}

impl PeerMap {
    pub fn parse(text: &str) -> Result<PeerMap, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = || {
                format!(
                    "line {}: expected ADDR[/BITS][:PORT]=NAME, got {line:?}",
                    n + 1
                )
            };
            let (addr, name) = line.split_once('=').ok_or_else(bad)?;
            let (addr, name) = (addr.trim(), name.trim());
            if name.is_empty() {
                return Err(bad());
            }
            let (net, port) = if let Ok(sa) = addr.parse::<SocketAddr>() {
                (Net::parse(&sa.ip().to_string()), Some(sa.port()))
            } else {
                (Net::parse(addr), None)
            };
            entries.push((net.ok_or_else(bad)?, port, name.to_string()));
        }
        Ok(PeerMap { entries })
    }

    pub fn name(&self, a: SocketAddr) -> Option<&str> {
        self.entries
            .iter()
            .filter(|(net, port, _)| net.contains(a.ip()) && port.is_none_or(|p| p == a.port()))
            .max_by_key(|(net, port, _)| (port.is_some(), net.prefix))
            .map(|(_, _, name)| name.as_str())
    }
}

/// How statistics are cut: by peer, by direction relative to the local networks, by time bucket.
#[derive(Clone, Debug, Default)]
pub struct Cuts {
    pub peers: Option<PeerMap>,
    pub local: Option<Vec<Net>>,
    pub interval: Option<Nanos>,
}

/// One group of a cut. Fields are `None` when that cut was not asked for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key {
    pub(crate) peer: Option<String>,
    pub(crate) direction: Option<&'static str>,
    pub(crate) bucket: Option<i64>,
}

impl Cuts {
    fn is_local(&self, a: Option<SocketAddr>) -> Option<bool> {
        let local = self.local.as_ref()?;
        a.map(|a| local.iter().any(|n| n.contains(a.ip())))
    }

    /// The key of an exchange from `from` to `to` starting at `t`. The peer is the far end: the
    /// side outside the local networks when they are given, else the first side the map names.
    pub(crate) fn key(&self, from: Option<SocketAddr>, to: Option<SocketAddr>, t: Ts) -> Key {
        let (lf, lt) = (self.is_local(from), self.is_local(to));
        let direction = self.local.as_ref().map(|_| match (lf, lt) {
            (Some(false), Some(true)) => "in",
            (Some(true), Some(false)) => "out",
            (Some(true), Some(true)) => "internal",
            (Some(false), Some(false)) => "transit",
            _ => "unknown",
        });
        let peer = self.peers.as_ref().map(|m| {
            let order = match (lf, lt) {
                (Some(true), _) => [to, from],
                _ => [from, to],
            };
            order
                .into_iter()
                .flatten()
                .find_map(|a| m.name(a))
                .unwrap_or("other")
                .to_string()
        });
        Key {
            peer,
            direction,
            bucket: self.interval.map(|i| t.0.div_euclid(i) * i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NANOS_PER_SEC;

    #[test]
    fn nets_and_peers() {
        let n = Net::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(Net::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8:1::5".parse().unwrap()));
        assert!(Net::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Net::parse("10.0.0.0/33").is_none());
        let m = PeerMap::parse(
            "# trunks\n10.0.0.0/8 = lan\n10.9.0.0/16=carrier-a\n10.9.0.5:5080 = sbc-b # port\n",
        )
        .unwrap();
        assert_eq!(m.name("10.1.1.1:5060".parse().unwrap()), Some("lan"));
        assert_eq!(m.name("10.9.0.5:5060".parse().unwrap()), Some("carrier-a"));
        assert_eq!(m.name("10.9.0.5:5080".parse().unwrap()), Some("sbc-b"));
        assert_eq!(m.name("192.0.2.1:5060".parse().unwrap()), None);
        assert!(PeerMap::parse("10.0.0.0/8").unwrap_err().contains("line 1"));
        assert!(PeerMap::parse("nonsense=x").is_err());
    }

    #[test]
    fn direction_and_peer_keys() {
        let cuts = Cuts {
            peers: Some(PeerMap::parse("203.0.113.0/24=carrier").unwrap()),
            local: Some(vec![Net::parse("10.0.0.0/8").unwrap()]),
            interval: Some(60 * NANOS_PER_SEC),
        };
        let a: SocketAddr = "10.0.0.1:5060".parse().unwrap();
        let b: SocketAddr = "203.0.113.9:5060".parse().unwrap();
        let k = cuts.key(Some(a), Some(b), Ts(125 * NANOS_PER_SEC));
        assert_eq!(k.direction, Some("out"));
        assert_eq!(k.peer.as_deref(), Some("carrier"));
        assert_eq!(k.bucket, Some(120 * NANOS_PER_SEC));
        let k = cuts.key(Some(b), Some(a), Ts(0));
        assert_eq!(
            (k.direction, k.peer.as_deref()),
            (Some("in"), Some("carrier"))
        );
        let k = cuts.key(Some(a), Some(a), Ts(0));
        assert_eq!(
            (k.direction, k.peer.as_deref()),
            (Some("internal"), Some("other"))
        );
    }
}
