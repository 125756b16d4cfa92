//! Passive decoder for SIP over WebSocket (RFC 7118 on top of RFC 6455).
//!
//! Contract:
//! - Takes the bytes of *one direction* of a TCP connection, already
//!   reassembled and in order, in pieces of any size.
//! - [`http_upgrade_head`] recognises the HTTP/1.1 opening handshake
//!   (RFC 6455 §4.1/§4.2): a `GET` request carrying `Upgrade: websocket`, or
//!   the server's `HTTP/1.x` answer, and says how many bytes it spans so the
//!   caller can hand the rest of the stream to a [`WsDecoder`]. It only looks
//!   at the first [`MAX_HEAD_LEN`] bytes.
//! - [`WsDecoder`] turns frames (RFC 6455 §5.2) into whole application
//!   messages: masking removed (§5.3), fragments joined (§5.4), control frames
//!   (§5.5) counted and dropped even when they sit between the fragments of a
//!   data message. A frame split at any byte boundary across `push` calls
//!   gives the same messages as the unsplit stream.
//! - Bounds: at most 14 header bytes, one control payload (at most 125 bytes)
//!   and one message of at most `max_message` bytes are held at any time. A
//!   frame whose declared length would push the message past `max_message` is
//!   refused from its header alone, before any payload is buffered.
//! - A passive reader keeps reading past what a conforming endpoint would
//!   refuse: a length not in its shortest form (RFC 6455 §5.2 says MUST) is
//!   read and counted (`non_minimal_lengths`). A frame refused for any other
//!   reason whose header could be read (reserved opcode, oversized or
//!   fragmented control frame, RSV1, a message past `max_message`, a stray
//!   continuation) is counted and its payload skipped, with the rest of its
//!   data message; the frames after it decode as usual. A data frame while a
//!   fragmented message is open drops the open message (counted) and starts
//!   the new one. `push` returns the first error of the call; messages before
//!   and after it are in `out`.
//! - Only a 64-bit length with its most significant bit set cannot be
//!   stepped over: the decoder counts it, drops its partial state and the
//!   rest of the data. Never panics and uses no `unsafe`.
//! - [`WsDecoder::cut`] drops the message being assembled (a memory budget
//!   above it ran out); the rest of that message is skipped as it arrives and
//!   the next message decodes as usual.
//! - Not done: permessage-deflate (RFC 7692; a frame with RSV1 set is refused
//!   with [`WsError::Compressed`], since RFC 7118 gives SIP no reason to
//!   negotiate it), and UTF-8 validation of text frames (the SIP parser above
//!   judges the bytes; a sniffer should not drop a message over it).

use std::fmt;
use std::ops::AddAssign;

use memchr::memmem;

/// Longest HTTP upgrade head we wait for. Browsers send well under 2 KiB;
/// anything longer without a blank line is not a handshake we care about, and
/// the cap keeps a caller from buffering a non-HTTP stream forever.
pub const MAX_HEAD_LEN: usize = 16 * 1024;

/// Largest frame header: 2 fixed bytes, 8 bytes of extended length, 4 bytes
/// of masking key.
const MAX_FRAME_HEADER: usize = 14;

/// RFC 6455 §5.5: control frames carry at most 125 bytes of payload.
const MAX_CONTROL_PAYLOAD: u64 = 125;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// What [`http_upgrade_head`] found at the start of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeHead {
    /// The data does not start with a WebSocket upgrade request or an HTTP
    /// response; more bytes will not change that.
    NotUpgrade,
    /// The data is a prefix of what may become an upgrade head; call again
    /// with more bytes.
    Incomplete,
    /// A complete `GET` request with `Upgrade: websocket`; `len` includes the
    /// final CRLFCRLF. `sip_subprotocol` is true when `Sec-WebSocket-Protocol`
    /// offers `sip` (RFC 7118 §4).
    Request { len: usize, sip_subprotocol: bool },
    /// A complete HTTP/1.x response head; `len` includes the final CRLFCRLF.
    /// `accepted` is true for `101` with `Upgrade: websocket`; any other status
    /// means the server refused the upgrade and the connection stays HTTP.
    Response { len: usize, accepted: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadKind {
    Request,
    Response,
}

/// Length and kind of a complete HTTP/1.1 upgrade head (request
/// `GET ... Upgrade: websocket` or response `HTTP/1.1 101`), including the
/// final CRLFCRLF, if `data` starts with one and it is complete.
pub fn http_upgrade_head(data: &[u8]) -> UpgradeHead {
    let kind = if data.starts_with(b"GET ") {
        HeadKind::Request
    } else if data.starts_with(b"HTTP/1.") {
        HeadKind::Response
    } else if b"GET ".starts_with(data) || b"HTTP/1.".starts_with(data) {
        return UpgradeHead::Incomplete;
    } else {
        return UpgradeHead::NotUpgrade;
    };

    let window = data.get(..MAX_HEAD_LEN).unwrap_or(data);
    // Judge the start line as soon as it is complete, so a stream that merely
    // begins with "GET " is let go without waiting for MAX_HEAD_LEN bytes.
    if let Some(eol) = memmem::find(window, b"\r\n") {
        let start = window.get(..eol).unwrap_or_default();
        let ok = match kind {
            HeadKind::Request => request_line_ok(start),
            HeadKind::Response => status_code(start).is_some(),
        };
        if !ok {
            return UpgradeHead::NotUpgrade;
        }
    }
    let Some(end) = memmem::find(window, b"\r\n\r\n") else {
        return if window.len() >= MAX_HEAD_LEN {
            UpgradeHead::NotUpgrade
        } else {
            UpgradeHead::Incomplete
        };
    };
    let len = end + 4;
    let Some(head) = window.get(..len) else {
        return UpgradeHead::Incomplete;
    };
    let upgrade = header_has_token(head, b"upgrade", b"websocket");
    match kind {
        HeadKind::Request if upgrade => UpgradeHead::Request {
            len,
            sip_subprotocol: header_has_token(head, b"sec-websocket-protocol", b"sip"),
        },
        HeadKind::Request => UpgradeHead::NotUpgrade,
        HeadKind::Response => {
            let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
            let accepted = status_code(trim_cr(first)) == Some(101) && upgrade;
            UpgradeHead::Response { len, accepted }
        }
    }
}

/// First value of header `name` (ASCII case-insensitive) in an HTTP head,
/// trimmed of surrounding blanks; for reading e.g. the subprotocol a `101`
/// response selected (`Sec-WebSocket-Protocol`).
pub fn header_value<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    headers(head)
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// RFC 6455 §4.1 requires "GET <target> HTTP/1.1" or later.
fn request_line_ok(line: &[u8]) -> bool {
    let mut parts = line.split(|&b| b == b' ');
    parts.next() == Some(b"GET".as_slice())
        && parts.next().is_some_and(|t| !t.is_empty())
        && parts.next().is_some_and(|v| v.starts_with(b"HTTP/1."))
        && parts.next().is_none()
}

fn status_code(line: &[u8]) -> Option<u16> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    if !parts.next()?.starts_with(b"HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    code.iter()
        .try_fold(0u16, |acc, &d| Some(acc * 10 + u16::from(d - b'0')))
}

/// Header fields after the start line, as (name, value) pairs. Lines without
/// a colon are skipped rather than failing: a passive observer keeps what it
/// can read.
fn headers(head: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    head.split(|&b| b == b'\n').skip(1).filter_map(|line| {
        let line = trim_cr(line);
        let colon = memchr::memchr(b':', line)?;
        let (name, value) = line.split_at(colon);
        Some((trim_blank(name), trim_blank(value.get(1..)?)))
    })
}

/// Whether any `name` header holds `token` in its comma-separated list,
/// ASCII case-insensitive (Upgrade and subprotocol tokens are matched that
/// way by real servers even where the RFCs are stricter).
fn header_has_token(head: &[u8], name: &[u8], token: &[u8]) -> bool {
    headers(head)
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .any(|(_, v)| {
            v.split(|&b| b == b',')
                .any(|t| trim_blank(t).eq_ignore_ascii_case(token))
        })
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_blank(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Why a frame was refused. After any of these the decoder has reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsError {
    /// The message would grow to `len` bytes, over the decoder's `max`.
    TooLarge { len: u64, max: usize },
    /// Opcode 3-7 or 0xB-0xF (RFC 6455 §5.2).
    ReservedOpcode(u8),
    /// A continuation frame with no text/binary frame before it.
    ContinuationWithoutStart,
    /// A text/binary frame while a fragmented message was still open
    /// (RFC 6455 §5.4 forbids interleaving data messages).
    UnfinishedMessage,
    /// A control frame longer than 125 bytes (RFC 6455 §5.5).
    ControlTooLong(u64),
    /// A control frame without FIN (RFC 6455 §5.5 forbids fragmenting them).
    FragmentedControl(u8),
    /// The payload length was not in its shortest form, or a 64-bit length
    /// had its most significant bit set (RFC 6455 §5.2).
    NonMinimalOrBadLength,
    /// RSV1 set: permessage-deflate (RFC 7692), which this decoder does not
    /// inflate.
    Compressed,
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(f, "websocket message of {len} bytes exceeds limit {max}")
            }
            Self::ReservedOpcode(op) => write!(f, "reserved websocket opcode {op:#x}"),
            Self::ContinuationWithoutStart => {
                f.write_str("websocket continuation frame without a starting frame")
            }
            Self::UnfinishedMessage => {
                f.write_str("websocket data frame inside an unfinished fragmented message")
            }
            Self::ControlTooLong(len) => {
                write!(f, "websocket control frame of {len} bytes (max 125)")
            }
            Self::FragmentedControl(op) => {
                write!(f, "fragmented websocket control frame (opcode {op:#x})")
            }
            Self::NonMinimalOrBadLength => f.write_str("invalid websocket payload length encoding"),
            Self::Compressed => f.write_str("compressed websocket frame (RSV1 set) not supported"),
        }
    }
}

impl std::error::Error for WsError {}

/// Counters for one decoder (or, summed with `+=`, for many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct WsStats {
    /// Complete frames of any kind.
    pub frames: u64,
    /// Complete ping, pong and close frames.
    pub control_frames: u64,
    /// Complete close frames (also counted in `control_frames`).
    pub close_frames: u64,
    /// Complete frames that carried a masking key (client to server).
    pub masked_frames: u64,
    /// Frames with RSV2 or RSV3 set (decoded anyway: no extension we know
    /// of changes the payload through them).
    pub reserved_bits: u64,
    /// Application messages delivered.
    pub messages: u64,
    /// Payload bytes of the delivered messages.
    pub bytes: u64,
    /// Frames refused (each counted once; see the module contract).
    pub errors: u64,
    /// Frames whose payload length was not in its shortest form (read anyway).
    pub non_minimal_lengths: u64,
    /// Messages dropped unfinished by [`WsDecoder::cut`].
    pub cut: u64,
}

impl AddAssign for WsStats {
    // Saturating: totals summed over a long capture must never be a reason
    // to panic in a debug build.
    fn add_assign(&mut self, o: Self) {
        self.frames = self.frames.saturating_add(o.frames);
        self.control_frames = self.control_frames.saturating_add(o.control_frames);
        self.close_frames = self.close_frames.saturating_add(o.close_frames);
        self.masked_frames = self.masked_frames.saturating_add(o.masked_frames);
        self.reserved_bits = self.reserved_bits.saturating_add(o.reserved_bits);
        self.messages = self.messages.saturating_add(o.messages);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.errors = self.errors.saturating_add(o.errors);
        self.non_minimal_lengths = self
            .non_minimal_lengths
            .saturating_add(o.non_minimal_lengths);
        self.cut = self.cut.saturating_add(o.cut);
    }
}

#[derive(Debug, Clone, Copy)]
struct FrameHeader {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
    non_minimal: bool,
}

impl FrameHeader {
    fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// Frame decoder for one direction of one WebSocket connection.
#[derive(Debug, Clone)]
pub struct WsDecoder {
    max_message: usize,
    header: [u8; MAX_FRAME_HEADER],
    header_len: usize,
    /// The frame whose payload is being read, if its header is complete.
    frame: Option<FrameHeader>,
    remaining: u64,
    /// Offset into the masking key of the next payload byte; kept across
    /// `push` calls because a frame may be split anywhere.
    mask_pos: usize,
    message: Vec<u8>,
    in_message: bool,
    /// The payload of the current frame is stepped over (the frame was refused).
    skip: bool,
    /// The open data message is being dropped: its frames are stepped over until its FIN.
    discard: bool,
    /// An error counted inside `begin_frame` without refusing the frame, for `push` to return.
    soft_error: Option<WsError>,
    control: Vec<u8>,
    stats: WsStats,
}

impl WsDecoder {
    /// A decoder that refuses messages longer than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            max_message,
            header: [0; MAX_FRAME_HEADER],
            header_len: 0,
            frame: None,
            remaining: 0,
            mask_pos: 0,
            message: Vec::new(),
            in_message: false,
            skip: false,
            discard: false,
            soft_error: None,
            control: Vec::new(),
            stats: WsStats::default(),
        }
    }

    /// Feed the next in-order bytes of one direction. Complete application
    /// messages (text or binary, unmasked, fragments joined) are appended to
    /// `out`. Partial frames are kept for the next call. Control frames are
    /// consumed and counted, also between fragments (RFC 6455 §5.4).
    ///
    /// Returns the first error met; see the module contract for what is
    /// stepped over and what resets the decoder.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), WsError> {
        let mut first = None;
        let result = self.push_inner(data, out, &mut first);
        if let Some(e) = self.soft_error.take() {
            first.get_or_insert(e);
        }
        if result.is_err() {
            self.stats.errors += 1;
            self.reset();
        }
        match first {
            Some(e) => Err(e),
            None => result,
        }
    }

    /// Drops the data message being assembled, if any: the rest of it is
    /// skipped as it arrives. Returns the bytes freed.
    pub fn cut(&mut self) -> usize {
        let freed = self.message.len();
        if self.in_message && !self.discard {
            self.discard = true;
            self.stats.cut += 1;
            self.message = Vec::new();
        }
        freed
    }

    /// Counters so far; `reset` keeps them.
    pub fn stats(&self) -> WsStats {
        self.stats
    }

    /// Forget any partial frame or message, e.g. after a gap in the TCP
    /// stream, where the next bytes cannot be trusted to follow on.
    pub fn reset(&mut self) {
        self.header_len = 0;
        self.frame = None;
        self.remaining = 0;
        self.mask_pos = 0;
        // Replace rather than clear so a large aborted message frees its
        // memory instead of pinning it for the connection's lifetime.
        self.message = Vec::new();
        self.in_message = false;
        self.skip = false;
        self.discard = false;
        self.control.clear();
    }

    /// True when the decoder sits on a frame boundary outside any fragmented
    /// message, i.e. holds nothing that later bytes must complete.
    pub fn is_idle(&self) -> bool {
        self.header_len == 0 && self.frame.is_none() && !self.in_message
    }

    /// Bytes currently held for incomplete frames and messages.
    pub fn buffered(&self) -> usize {
        self.header_len + self.message.len() + self.control.len()
    }

    fn push_inner(
        &mut self,
        mut data: &[u8],
        out: &mut Vec<Vec<u8>>,
        first: &mut Option<WsError>,
    ) -> Result<(), WsError> {
        loop {
            let frame = match self.frame {
                Some(frame) => frame,
                None => {
                    let have = self.header.get(..self.header_len).unwrap_or_default();
                    let needed = header_needed(have);
                    if self.header_len < needed {
                        if data.is_empty() {
                            return Ok(());
                        }
                        let take = (needed - self.header_len).min(data.len());
                        let (head, rest) = data.split_at(take);
                        if let Some(dst) =
                            self.header.get_mut(self.header_len..self.header_len + take)
                        {
                            dst.copy_from_slice(head);
                        }
                        self.header_len += take;
                        data = rest;
                        // The second byte may reveal that more header
                        // bytes are needed, so measure again.
                        continue;
                    }
                    let frame = parse_header(have)?;
                    if frame.non_minimal {
                        self.stats.non_minimal_lengths += 1;
                    }
                    if let Err(e) = self.begin_frame(frame) {
                        // Refused, but its length is known: step over it.
                        self.stats.errors += 1;
                        first.get_or_insert(e);
                        self.refuse(frame);
                    }
                    self.header_len = 0;
                    frame
                }
            };

            let take = usize::try_from(self.remaining)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let (chunk, rest) = data.split_at(take);
            self.consume_payload(frame, chunk);
            data = rest;
            // `take` never exceeds `remaining`, so this cannot underflow.
            self.remaining -= take as u64;
            if self.remaining > 0 {
                return Ok(());
            }
            self.finish_frame(frame, out);
        }
    }

    /// Sets up stepping over a refused frame (and the rest of its data message).
    fn refuse(&mut self, frame: FrameHeader) {
        self.frame = Some(frame);
        self.remaining = frame.len;
        self.mask_pos = 0;
        self.skip = true;
        if !frame.is_control() && frame.opcode <= OP_BINARY {
            if frame.opcode != OP_CONTINUATION {
                // A new message: whatever was open is gone too.
                self.message = Vec::new();
            }
            self.in_message = !frame.fin;
            self.discard = !frame.fin;
            if !self.discard {
                self.message = Vec::new();
            }
        }
    }

    fn begin_frame(&mut self, frame: FrameHeader) -> Result<(), WsError> {
        if frame.rsv & 0b100 != 0 {
            return Err(WsError::Compressed);
        }
        match frame.opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if !frame.fin {
                    return Err(WsError::FragmentedControl(frame.opcode));
                }
                if frame.len > MAX_CONTROL_PAYLOAD {
                    return Err(WsError::ControlTooLong(frame.len));
                }
                self.control.clear();
            }
            OP_CONTINUATION | OP_TEXT | OP_BINARY => {
                if frame.opcode == OP_CONTINUATION && !self.in_message {
                    return Err(WsError::ContinuationWithoutStart);
                }
                if frame.opcode != OP_CONTINUATION && self.in_message {
                    if self.discard {
                        // The dropped message never saw its FIN: this one starts afresh.
                        self.discard = false;
                        self.in_message = false;
                    } else {
                        // Counted; the open message is dropped and this one is read.
                        self.stats.errors += 1;
                        self.soft_error.get_or_insert(WsError::UnfinishedMessage);
                        self.message = Vec::new();
                        self.in_message = false;
                    }
                }
                if self.discard {
                    // A continuation of a dropped message: stepped over, not an error.
                    self.frame = Some(frame);
                    self.remaining = frame.len;
                    self.mask_pos = 0;
                    self.skip = true;
                    self.in_message = !frame.fin;
                    self.discard = !frame.fin;
                    if frame.rsv != 0 {
                        self.stats.reserved_bits += 1;
                    }
                    return Ok(());
                }
                let total = (self.message.len() as u64).saturating_add(frame.len);
                if total > self.max_message as u64 {
                    return Err(WsError::TooLarge {
                        len: total,
                        max: self.max_message,
                    });
                }
                if frame.opcode != OP_CONTINUATION {
                    self.message.clear();
                    self.in_message = true;
                }
            }
            other => return Err(WsError::ReservedOpcode(other)),
        }
        if frame.rsv != 0 {
            self.stats.reserved_bits += 1;
        }
        self.frame = Some(frame);
        self.remaining = frame.len;
        self.mask_pos = 0;
        Ok(())
    }

    fn consume_payload(&mut self, frame: FrameHeader, chunk: &[u8]) {
        if self.skip || (self.discard && !frame.is_control()) {
            return;
        }
        let dst = if frame.is_control() {
            &mut self.control
        } else {
            &mut self.message
        };
        match frame.mask {
            Some(key) => {
                let keys = key.iter().cycle().skip(self.mask_pos);
                dst.extend(chunk.iter().zip(keys).map(|(b, k)| b ^ k));
                self.mask_pos = (self.mask_pos + chunk.len()) % 4;
            }
            None => dst.extend_from_slice(chunk),
        }
    }

    fn finish_frame(&mut self, frame: FrameHeader, out: &mut Vec<Vec<u8>>) {
        self.frame = None;
        self.stats.frames += 1;
        if std::mem::take(&mut self.skip) {
            return;
        }
        if frame.mask.is_some() {
            self.stats.masked_frames += 1;
        }
        if frame.is_control() {
            self.stats.control_frames += 1;
            if frame.opcode == OP_CLOSE {
                self.stats.close_frames += 1;
            }
            self.control.clear();
        } else if frame.fin && std::mem::take(&mut self.discard) {
            // The end of a message `cut` dropped.
            self.in_message = false;
            self.message = Vec::new();
        } else if frame.fin {
            let message = std::mem::take(&mut self.message);
            self.in_message = false;
            self.stats.messages += 1;
            self.stats.bytes += message.len() as u64;
            out.push(message);
        }
    }
}

/// Header length implied by the bytes seen so far (at least the 2 fixed
/// bytes, then whatever the length and mask bits of byte 2 call for).
fn header_needed(have: &[u8]) -> usize {
    let Some(&b1) = have.get(1) else {
        return 2;
    };
    let ext = match b1 & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    2 + ext + mask
}

/// Decodes a complete header as measured by `header_needed`.
fn parse_header(h: &[u8]) -> Result<FrameHeader, WsError> {
    let [b0, b1, rest @ ..] = h else {
        return Err(WsError::NonMinimalOrBadLength);
    };
    let (len, rest) = match b1 & 0x7f {
        126 => {
            let (ext, rest) = rest
                .split_first_chunk::<2>()
                .ok_or(WsError::NonMinimalOrBadLength)?;
            let len = u64::from(u16::from_be_bytes(*ext));
            (len, rest)
        }
        127 => {
            let (ext, rest) = rest
                .split_first_chunk::<8>()
                .ok_or(WsError::NonMinimalOrBadLength)?;
            let len = u64::from_be_bytes(*ext);
            if len >> 63 != 0 {
                return Err(WsError::NonMinimalOrBadLength);
            }
            (len, rest)
        }
        short => (u64::from(short), rest),
    };
    let mask = if b1 & 0x80 != 0 {
        let (key, _) = rest
            .split_first_chunk::<4>()
            .ok_or(WsError::NonMinimalOrBadLength)?;
        Some(*key)
    } else {
        None
    };
    Ok(FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0x7,
        opcode: b0 & 0x0f,
        mask,
        len,
        non_minimal: match b1 & 0x7f {
            126 => len < 126,
            127 => len <= u64::from(u16::MAX),
            _ => false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// Encoder used only to build test streams.
    fn frame(b0: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![b0];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => v.push(m | n as u8),
            n if n <= 0xffff => {
                v.push(m | 126);
                v.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                v.push(m | 127);
                v.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                v.extend_from_slice(&k);
                v.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => v.extend_from_slice(payload),
        }
        v
    }

    fn decode_all(max: usize, pieces: &[&[u8]]) -> (Vec<Vec<u8>>, WsStats) {
        let mut d = WsDecoder::new(max);
        let mut out = Vec::new();
        for p in pieces {
            d.push(p, &mut out).unwrap();
        }
        (out, d.stats())
    }

    // RFC 6455 §5.7 examples, byte for byte.
    #[test]
    fn rfc6455_examples() {
        let unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let frag = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        for f in [&unmasked[..], &masked, &frag] {
            let (out, _) = decode_all(100, &[f]);
            assert_eq!(out, vec![b"Hello".to_vec()]);
        }
        let (out, st) = decode_all(100, &[&ping, &pong]);
        assert!(out.is_empty());
        assert_eq!((st.frames, st.control_frames, st.masked_frames), (2, 2, 1));

        let mut b256 = vec![0x82, 0x7e, 0x01, 0x00];
        b256.extend((0..256).map(|i| i as u8));
        let (out, _) = decode_all(1000, &[&b256]);
        assert_eq!(out[0].len(), 256);
        assert_eq!(out[0][255], 255);

        let mut b64k = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
        b64k.extend(std::iter::repeat_n(7u8, 65536));
        let (out, st) = decode_all(70_000, &[&b64k]);
        assert_eq!(out[0].len(), 65536);
        assert_eq!(st.bytes, 65536);
    }

    // Client direction of the WebSocket session in arkime_synthetic.pcap
    // (frames 825, 827, 829 as TCP segments): a masked text frame split
    // across two segments, then a fragmented text message with a masked
    // ping between its fragments.
    const ARKIME_C2S: [&str; 3] = [
        "81901122334442525f2d65644125",
        "7c4760257c525f21",
        "018c11223344575052235947522041434130898011223344808c112233445750522345435a2841434130",
    ];
    // Server direction (frames 831, 833): a close frame split in two.
    const ARKIME_S2C: [&str; 2] = ["880b03e86279", "652d73706c6974"];

    #[test]
    fn arkime_capture_segments() {
        let segs: Vec<Vec<u8>> = ARKIME_C2S.iter().map(|s| unhex(s)).collect();
        let pieces: Vec<&[u8]> = segs.iter().map(Vec::as_slice).collect();
        let (out, st) = decode_all(1024, &pieces);
        assert_eq!(
            out,
            vec![
                b"SplitFrameSample".to_vec(),
                b"FragHeadPartFragTailPart".to_vec()
            ]
        );
        assert_eq!(st.frames, 4);
        assert_eq!(st.control_frames, 1);
        assert_eq!(st.masked_frames, 4);
        assert_eq!(st.messages, 2);

        let segs: Vec<Vec<u8>> = ARKIME_S2C.iter().map(|s| unhex(s)).collect();
        let mut d = WsDecoder::new(1024);
        let mut out = Vec::new();
        d.push(&segs[0], &mut out).unwrap();
        // Mid-frame: the close payload is only half there.
        assert!(!d.is_idle());
        d.push(&segs[1], &mut out).unwrap();
        assert!(out.is_empty());
        assert!(d.is_idle());
        let st = d.stats();
        assert_eq!((st.frames, st.close_frames, st.masked_frames), (1, 1, 0));
    }

    const ARKIME_REQ: &str = "474554202f6368617420485454502f312e310d0a486f73743a2077732e73706c69742e746573740d0a557067726164653a20776562736f636b65740d0a436f6e6e656374696f6e3a20557067726164650d0a5365632d576562536f636b65742d4b65793a206447686c49484e68625842735a5342756232356a5a513d3d0d0a5365632d576562536f636b65742d56657273696f6e3a2031330d0a0d0a";
    const ARKIME_RESP: &str = "485454502f312e312031303120537769746368696e672050726f746f636f6c730d0a557067726164653a20776562736f636b65740d0a436f6e6e656374696f6e3a20557067726164650d0a5365632d576562536f636b65742d4163636570743a20733370504c4d426954786151396b59477a7a685a52624b2b784f6f3d0d0a0d0a";

    // RFC 7118 §A.1-style handshake offering and selecting "sip".
    const SIP_REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: sip-ws.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://www.example.com\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const SIP_RESP: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n";

    #[test]
    fn upgrade_heads() {
        let req = unhex(ARKIME_REQ);
        assert_eq!(
            http_upgrade_head(&req),
            UpgradeHead::Request {
                len: 156,
                sip_subprotocol: false
            }
        );
        let resp = unhex(ARKIME_RESP);
        assert_eq!(
            http_upgrade_head(&resp),
            UpgradeHead::Response {
                len: 129,
                accepted: true
            }
        );

        // Head followed by the first frame in the same segment.
        let mut with_frame = SIP_REQ.to_vec();
        with_frame.extend_from_slice(&frame(0x81, Some([1, 2, 3, 4]), b"OPTIONS"));
        assert_eq!(
            http_upgrade_head(&with_frame),
            UpgradeHead::Request {
                len: SIP_REQ.len(),
                sip_subprotocol: true
            }
        );
        assert_eq!(
            http_upgrade_head(SIP_RESP),
            UpgradeHead::Response {
                len: SIP_RESP.len(),
                accepted: true
            }
        );
        assert_eq!(
            header_value(SIP_RESP, b"SEC-WEBSOCKET-PROTOCOL"),
            Some(&b"sip"[..])
        );

        for n in 0..SIP_REQ.len() {
            assert_eq!(
                http_upgrade_head(&SIP_REQ[..n]),
                UpgradeHead::Incomplete,
                "{n}"
            );
        }
        let refused = b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n";
        assert_eq!(
            http_upgrade_head(refused),
            UpgradeHead::Response {
                len: refused.len(),
                accepted: false
            }
        );
        let plain = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(http_upgrade_head(plain), UpgradeHead::NotUpgrade);
        assert_eq!(
            http_upgrade_head(b"POST / HTTP/1.1\r\n"),
            UpgradeHead::NotUpgrade
        );
        assert_eq!(
            http_upgrade_head(b"INVITE sip:a@b SIP/2.0\r\n"),
            UpgradeHead::NotUpgrade
        );
        assert_eq!(
            http_upgrade_head(b"GET nothing-http\r\n"),
            UpgradeHead::NotUpgrade
        );
        assert_eq!(
            http_upgrade_head(b"HTTP/1.1 1O1 x\r\n"),
            UpgradeHead::NotUpgrade
        );
        let mut long = b"GET / HTTP/1.1\r\n".to_vec();
        long.resize(MAX_HEAD_LEN + 10, b'a');
        assert_eq!(http_upgrade_head(&long), UpgradeHead::NotUpgrade);
    }

    /// A SIP-over-WebSocket exchange: masked REGISTER split into a 16-bit
    /// length frame in two fragments, with ping/pong interleaved.
    fn sip_stream() -> (Vec<u8>, Vec<Vec<u8>>) {
        let register: &[u8] = b"REGISTER sip:proxy.example.com SIP/2.0\r\nVia: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKasudf\r\nFrom: sip:alice@example.com;tag=65bnmj.34asd\r\nTo: sip:alice@example.com\r\nCall-ID: aiuy7k9njasd\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nSupported: path, outbound, gruu\r\nContact: <sip:alice@df7jal23ls0d.invalid;transport=ws>;reg-id=1;+sip.instance=\"<urn:uuid:f81-7dec-14a06cf1>\"\r\nContent-Length: 0\r\n\r\n";
        let ok: &[u8] = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        let key = [0xde, 0xad, 0xbe, 0xef];
        let (a, b) = register.split_at(131);
        let mut s = Vec::new();
        s.extend(frame(0x01, Some(key), a));
        s.extend(frame(0x89, Some([9, 8, 7, 6]), b"keepalive"));
        s.extend(frame(0x80, Some(key), b));
        s.extend(frame(0x82, None, ok));
        s.extend(frame(0x8a, None, b""));
        s.extend(frame(0x91, None, b"rsv3")); // RSV3 set: counted, decoded
        s.extend(frame(0x88, Some(key), &[0x03, 0xe8]));
        (s, vec![register.to_vec(), ok.to_vec(), b"rsv3".to_vec()])
    }

    #[test]
    fn several_frames_one_push() {
        let (s, want) = sip_stream();
        let (out, st) = decode_all(4096, &[&s]);
        assert_eq!(out, want);
        assert_eq!(st.frames, 7);
        assert_eq!(st.control_frames, 3);
        assert_eq!(st.close_frames, 1);
        assert_eq!(st.reserved_bits, 1);
        assert_eq!(st.messages, 3);
    }

    #[test]
    fn every_split_point_same_messages() {
        let (s, want) = sip_stream();
        for i in 0..=s.len() {
            let (a, b) = s.split_at(i);
            let (out, _) = decode_all(4096, &[a, b]);
            assert_eq!(out, want, "split at {i}");
        }
        // Three-way splits over the first frames, and one byte at a time.
        for i in 0..60 {
            for j in i..200 {
                let (out, _) = decode_all(4096, &[&s[..i], &s[i..j], &s[j..]]);
                assert_eq!(out, want, "split at {i},{j}");
            }
        }
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        let (out, _) = decode_all(4096, &bytes);
        assert_eq!(out, want);
    }

    #[test]
    fn errors_and_recovery() {
        let cases: Vec<(Vec<u8>, WsError)> = vec![
            (vec![0x83, 0x00], WsError::ReservedOpcode(3)),
            (vec![0x8b, 0x00], WsError::ReservedOpcode(0xb)),
            (vec![0x80, 0x01, b'x'], WsError::ContinuationWithoutStart),
            (frame(0x89, None, &[0; 126]), WsError::ControlTooLong(126)),
            (vec![0x09, 0x00], WsError::FragmentedControl(9)),
            (
                vec![0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0],
                WsError::NonMinimalOrBadLength,
            ),
            (vec![0xc1, 0x01, b'x'], WsError::Compressed),
            (
                [frame(0x01, None, b"a"), frame(0x81, None, b"b")].concat(),
                WsError::UnfinishedMessage,
            ),
            (
                frame(0x81, None, &[b'x'; 101]),
                WsError::TooLarge { len: 101, max: 100 },
            ),
            (
                [
                    frame(0x01, None, &[b'x'; 60]),
                    frame(0x80, None, &[b'x'; 60]),
                ]
                .concat(),
                WsError::TooLarge { len: 120, max: 100 },
            ),
        ];
        for (bytes, want) in cases {
            let mut d = WsDecoder::new(100);
            let mut out = Vec::new();
            assert_eq!(d.push(&bytes, &mut out), Err(want), "{bytes:02x?}");
            assert!(!want.to_string().is_empty());
            assert_eq!(d.stats().errors, 1);
            assert!(d.is_idle());
            // After the reset a valid frame decodes normally.
            d.push(&frame(0x81, None, b"ok"), &mut out).unwrap();
            assert_eq!(out.last().map(Vec::as_slice), Some(&b"ok"[..]));
        }
    }

    /// S1: a frame whose length is not in its shortest form was refused with the rest of its
    /// segment (2 of 3 SIP messages lost). It is read, counted, and the next frames decode.
    #[test]
    fn non_minimal_lengths_are_read_and_counted() {
        let mut s = frame(0x81, None, b"one");
        s.extend([0x81, 0x7e, 0x00, 0x03]);
        s.extend(b"two");
        s.extend([0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 5]);
        s.extend(b"three");
        s.extend(frame(0x81, Some([1, 2, 3, 4]), b"four"));
        let (out, st) = decode_all(100, &[&s]);
        assert_eq!(out, [&b"one"[..], b"two", b"three", b"four"]);
        assert_eq!(st.non_minimal_lengths, 2);
        assert_eq!(st.errors, 0);
    }

    /// A refused frame is stepped over: the frames after it in the same data still decode.
    #[test]
    fn frames_after_a_refused_one_are_kept() {
        let mut s = frame(0x83, None, b"reserved");
        s.extend(frame(0x81, None, b"a"));
        s.extend(frame(0x01, None, &[b'x'; 80]));
        s.extend(frame(0x00, None, &[b'x'; 80]));
        s.extend(frame(0x00, None, b"tail of the big one"));
        s.extend(frame(0x80, None, b"and its end"));
        s.extend(frame(0x81, None, b"b"));
        let mut d = WsDecoder::new(100);
        let mut out = Vec::new();
        assert_eq!(d.push(&s, &mut out), Err(WsError::ReservedOpcode(3)));
        assert_eq!(out, [&b"a"[..], b"b"]);
        assert_eq!(d.stats().errors, 2);
        assert!(d.is_idle());
    }

    /// `cut` drops the message being assembled; the rest of it is skipped and the next one
    /// decodes.
    #[test]
    fn a_cut_message_is_skipped_to_its_end() {
        let mut s = frame(0x01, None, &[b'x'; 50]);
        s.extend(frame(0x00, None, &[b'y'; 50]));
        s.extend(frame(0x80, None, b"end"));
        s.extend(frame(0x81, None, b"next"));
        for at in [10, 50, 60, 106] {
            let mut d = WsDecoder::new(1000);
            let mut out = Vec::new();
            d.push(&s[..at], &mut out).unwrap();
            assert!(d.buffered() > 0, "{at}");
            let freed = d.cut();
            assert!(freed > 0);
            assert!(d.buffered() < 14);
            d.push(&s[at..], &mut out).unwrap();
            assert_eq!(out, [&b"next"[..]], "{at}");
            assert_eq!(d.stats().cut, 1);
            assert_eq!(d.stats().errors, 0);
        }
    }

    #[test]
    fn oversize_refused_from_header_alone() {
        let mut d = WsDecoder::new(1 << 20);
        let mut out = Vec::new();
        let hdr = [0x82, 0x7f, 0, 0, 0x01, 0, 0, 0, 0, 0];
        assert_eq!(
            d.push(&hdr, &mut out),
            Err(WsError::TooLarge {
                len: 1 << 40,
                max: 1 << 20
            })
        );
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn messages_before_error_are_kept_and_reset_drops_partial() {
        let mut s = frame(0x81, None, b"first");
        s.extend([0x83, 0x00]);
        let mut d = WsDecoder::new(100);
        let mut out = Vec::new();
        assert!(d.push(&s, &mut out).is_err());
        assert_eq!(out, vec![b"first".to_vec()]);

        let f = frame(0x81, Some([1, 2, 3, 4]), b"hello");
        d.push(&f[..5], &mut out).unwrap();
        assert!(!d.is_idle());
        d.reset();
        d.push(&f, &mut out).unwrap();
        assert_eq!(out.last().map(Vec::as_slice), Some(&b"hello"[..]));
    }

    #[test]
    fn stats_add_assign() {
        let (s, _) = sip_stream();
        let (_, st) = decode_all(4096, &[&s]);
        let mut sum = WsStats::default();
        sum += st;
        sum += st;
        assert_eq!(sum.frames, 2 * st.frames);
        assert_eq!(sum.bytes, 2 * st.bytes);
    }

    use crate::testutil::XorShift;

    /// Feeds `data` in random pieces; the only requirements are no panic and
    /// the documented memory bound.
    fn feed_random(data: &[u8], rng: &mut XorShift, max: usize) {
        let mut d = WsDecoder::new(max);
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len());
            let (a, b) = rest.split_at(n);
            let _ = d.push(a, &mut out);
            assert!(d.buffered() <= max + MAX_FRAME_HEADER + MAX_CONTROL_PAYLOAD as usize);
            rest = b;
        }
        for m in &out {
            assert!(m.len() <= max);
        }
    }

    #[test]
    fn truncations_and_mutations_never_panic() {
        let (s, want) = sip_stream();
        let mut head = SIP_REQ.to_vec();
        head.extend_from_slice(&s);
        for n in 0..=s.len() {
            let mut d = WsDecoder::new(4096);
            let mut out = Vec::new();
            assert!(d.push(&s[..n], &mut out).is_ok());
            assert!(want.starts_with(&out), "truncated to {n}");
        }
        for n in 0..=head.len() {
            let _ = http_upgrade_head(&head[..n]);
        }
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..4000 {
            let mut m = if rng.below(2) == 0 {
                s.clone()
            } else {
                head.clone()
            };
            for _ in 0..1 + rng.below(6) {
                let i = rng.below(m.len());
                match rng.below(3) {
                    0 => m[i] = rng.next() as u8,
                    1 => m[i] ^= 1 << rng.below(8),
                    _ => m.truncate(i),
                }
                if m.is_empty() {
                    break;
                }
            }
            let _ = http_upgrade_head(&m);
            let max = [0, 16, 200, 4096][rng.below(4)];
            feed_random(&m, &mut rng, max);
        }
    }
}
