//! Several captures read as one, merged in time order (like `mergecap`).
//!
//! Each source is read in its own order; the merge always yields the earliest pending frame, ties
//! broken by the order the files were given, so the result is deterministic.

use super::{CaptureError, CaptureStats, Frame, FrameRef, Source};

pub struct MergedSource {
    sources: Vec<Box<dyn Source>>,
    /// The next frame of each source, owned (a source lends only until its next call).
    heads: Vec<Option<Frame>>,
    current: Option<Frame>,
    started: bool,
}

impl MergedSource {
    pub fn new(sources: Vec<Box<dyn Source>>) -> MergedSource {
        let heads = sources.iter().map(|_| None).collect();
        MergedSource {
            sources,
            heads,
            current: None,
            started: false,
        }
    }
}

impl Source for MergedSource {
    fn secrets_to(&mut self, sink: super::SecretsSink) {
        for s in &mut self.sources {
            s.secrets_to(sink.clone());
        }
    }

    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        if !self.started {
            self.started = true;
            for (s, h) in self.sources.iter_mut().zip(self.heads.iter_mut()) {
                *h = s.next_frame()?.map(|f| f.to_owned());
            }
        }
        let mut best: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(f) = h {
                match best {
                    Some(b) if self.heads[b].as_ref().is_some_and(|bf| bf.ts <= f.ts) => {}
                    _ => best = Some(i),
                }
            }
        }
        let Some(i) = best else { return Ok(None) };
        let next = self.sources[i].next_frame()?.map(|f| f.to_owned());
        self.current = std::mem::replace(&mut self.heads[i], next);
        Ok(self.current.as_ref().map(|f| FrameRef {
            ts: f.ts,
            link: f.link,
            data: &f.data,
            orig_len: f.orig_len,
            shared: None,
        }))
    }

    fn stats(&self) -> CaptureStats {
        let mut total = CaptureStats::default();
        for s in &self.sources {
            total += &s.stats();
        }
        total
    }

    fn paced(&self) -> bool {
        self.sources.iter().any(|s| s.paced())
    }

    fn progress(&self) -> Option<(u64, u64)> {
        let mut done = 0;
        let mut all = 0;
        for s in &self.sources {
            let (d, a) = s.progress()?;
            done += d;
            all += a;
        }
        Some((done, all))
    }
}
