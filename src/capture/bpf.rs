//! A BPF filter (tcpdump syntax) applied to frames read from files, as `tcpdump -r F EXPR` does:
//! libpcap compiles the expression once per link type and runs it on each frame. Live capture
//! gives the same expression to the kernel instead (`capture::live`).
//!
//! A compiled program holds libpcap's pointers and is not `Send`: a [`FrameFilter`] carries the
//! expression and compiles it in the thread that uses it, the first time a link type is seen.
//! An expression libpcap cannot compile for a link type (a `vlan` test on a raw IP capture)
//! rejects every frame of that type, counted in [`FrameFilter::uncompiled`].

use std::collections::HashMap;

use pcap::{BpfProgram, Capture, Linktype};

use super::LinkType;

/// Checks an expression against Ethernet framing, as the command line does before a run.
pub fn check(expr: &str) -> Result<(), String> {
    compile(expr, LinkType::Ethernet).map(|_| ())
}

fn compile(expr: &str, link: LinkType) -> Result<BpfProgram, String> {
    // libpcap takes DLT numbers; they equal the LINKTYPE ones but for raw IP (LINKTYPE 101 is
    // DLT_RAW, 12 on Linux).
    let dlt = match link {
        LinkType::Raw => 12,
        l => l.to_linktype() as i32,
    };
    let dead = Capture::dead(Linktype(dlt)).map_err(|e| e.to_string())?;
    dead.compile(expr, true)
        .map_err(|e| format!("bad BPF filter {expr:?}: {e}"))
}

/// The filter, compiled per link type as frames come.
pub struct FrameFilter {
    expr: String,
    programs: HashMap<LinkType, Option<BpfProgram>>,
    /// Frames of a link type the expression does not compile for (rejected).
    pub uncompiled: u64,
}

impl FrameFilter {
    pub fn new(expr: &str) -> FrameFilter {
        FrameFilter {
            expr: expr.to_string(),
            programs: HashMap::new(),
            uncompiled: 0,
        }
    }

    /// Whether the frame passes (its captured bytes, as libpcap's offline filter sees them).
    pub fn pass(&mut self, link: LinkType, data: &[u8]) -> bool {
        let expr = &self.expr;
        let p = self
            .programs
            .entry(link)
            .or_insert_with(|| compile(expr, link).ok());
        match p {
            Some(p) => p.filter(data),
            None => {
                self.uncompiled += 1;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_frames_like_tcpdump() {
        // An Ethernet frame: IPv4 UDP 10.0.0.1:5060 -> 10.0.0.2:5060.
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        f.extend_from_slice(&[0x13, 0xc4, 0x13, 0xc4, 0, 8, 0, 0]);
        let mut sip = FrameFilter::new("udp port 5060");
        assert!(sip.pass(LinkType::Ethernet, &f));
        let mut other = FrameFilter::new("tcp or host 10.9.9.9");
        assert!(!other.pass(LinkType::Ethernet, &f));
        // The same packet as raw IP: the program is compiled for that link type too.
        assert!(sip.pass(LinkType::Raw, &f[14..]));
        assert!(check("udp port").is_err());
        assert!(check("udp port 5060 and host 127.0.0.1").is_ok());
    }
}
