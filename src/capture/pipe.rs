//! Reading a capture from a pipe as packets come (`tcpdump -U -w - | sipscope messages -`, a
//! FIFO): a thread does the blocking reads and hands the bytes over a bounded channel, so the
//! file reader can wait for more with a timeout and say it is idle (a quiet link) instead of
//! holding what it has until the next packet. Bounded: at most [`CHUNKS`] reads of up to
//! [`CHUNK`] bytes wait in the channel; the writing thread blocks (and so does the pipe's writer)
//! beyond that, as a plain read would.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};

const CHUNK: usize = 64 << 10;
const CHUNKS: usize = 16;
/// How long a read waits for bytes when the reader may be idle.
pub const WAIT: Duration = Duration::from_millis(100);

/// Shared between the reader and its owner: whether a read may give up after [`WAIT`], and
/// whether the last one did.
#[derive(Default)]
pub struct PipeState {
    impatient: AtomicBool,
    timed_out: AtomicBool,
}

impl PipeState {
    /// Reads from now on give up after [`WAIT`] (`true`) or wait for bytes (`false`).
    pub fn set_impatient(&self, on: bool) {
        self.impatient.store(on, Ordering::Relaxed);
        if on {
            self.timed_out.store(false, Ordering::Relaxed);
        }
    }

    /// A read gave up: nothing came within [`WAIT`].
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }
}

/// A `Read` over a pipe read by its own thread.
pub struct PipeReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
    state: Arc<PipeState>,
    ended: bool,
}

impl PipeReader {
    pub fn new(mut raw: Box<dyn Read + Send>) -> io::Result<(PipeReader, Arc<PipeState>)> {
        let (tx, rx) = bounded(CHUNKS);
        std::thread::Builder::new()
            .name("pipe-reader".into())
            .spawn(move || loop {
                let mut chunk = vec![0u8; CHUNK];
                let r = match raw.read(&mut chunk) {
                    Ok(0) => return,
                    Ok(n) => {
                        chunk.truncate(n);
                        Ok(chunk)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let stop = r.is_err();
                if tx.send(r).is_err() || stop {
                    return;
                }
            })?;
        let state = Arc::new(PipeState::default());
        Ok((
            PipeReader {
                rx,
                buf: Vec::new(),
                pos: 0,
                state: state.clone(),
                ended: false,
            },
            state,
        ))
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.ended || out.is_empty() {
                return Ok(0);
            }
            let got = if self.state.impatient.load(Ordering::Relaxed) {
                match self.rx.recv_timeout(WAIT) {
                    Ok(r) => Some(r),
                    Err(RecvTimeoutError::Timeout) => {
                        self.state.timed_out.store(true, Ordering::Relaxed);
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Err(RecvTimeoutError::Disconnected) => None,
                }
            } else {
                self.rx.recv().ok()
            };
            match got {
                Some(Ok(chunk)) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(e),
                None => {
                    self.ended = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that sends a few bytes and then holds the pipe open: an impatient read says so
    /// after the wait, a patient one gets the bytes, and the end of the pipe ends the reader.
    #[test]
    fn reads_wait_with_a_timeout_only_when_asked() {
        let (r, mut w) = std::io::pipe().unwrap();
        let (mut p, state) = PipeReader::new(Box::new(r)).unwrap();
        io::Write::write_all(&mut w, b"abc").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(p.read(&mut buf).unwrap(), 3);
        state.set_impatient(true);
        let e = p.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(state.timed_out());
        io::Write::write_all(&mut w, b"de").unwrap();
        state.set_impatient(false);
        assert_eq!(p.read(&mut buf).unwrap(), 2);
        drop(w);
        assert_eq!(p.read(&mut buf).unwrap(), 0);
    }
}
