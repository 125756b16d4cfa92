//! The ladder as a PNG image: the same drawing as the SVG backend, on plotters' bitmap backend.
//! Text is rendered with DejaVu Sans Mono embedded in the binary (assets/fonts), so no system
//! font is needed. The image has exactly the [`Layout`]'s size.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use super::svg::{draw, Layout};
use super::Ladder;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");
static REGISTER: Once = Once::new();

/// Registers the embedded font as plotters' "monospace" family, once (PNG ladders and the
/// charts lay out text with it).
pub(crate) fn register_font() {
    REGISTER.call_once(|| {
        // The font is compiled in and known to parse; a failure would only mean blank text.
        let _ = plotters::style::register_font("monospace", FontStyle::Normal, FONT);
    });
}

/// Why a PNG could not be written.
#[derive(Debug)]
pub struct PngError(pub String);

impl std::fmt::Display for PngError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write PNG: {}", self.0)
    }
}

impl std::error::Error for PngError {}

/// Draws the ladder into a PNG file.
pub fn render_to(l: &Ladder, path: &Path) -> Result<(), PngError> {
    register_font();
    let lay = Layout::of(l);
    let root = BitMapBackend::new(path, (lay.width as u32, lay.height as u32)).into_drawing_area();
    draw(&root, l, &lay);
    root.present().map_err(|e| PngError(e.to_string()))
}
