//! The ladder as a PNG image: the same drawing as the SVG backend, on plotters' bitmap backend.
//! Text is rendered with DejaVu Sans Mono embedded in the binary (assets/fonts), so no system
//! font is needed. The image has exactly the [`Layout`]'s size.
//!
//! Glyphs are placed by [`GlyphBackend`], not by plotters: plotters 0.3.7's ab_glyph text
//! drawing puts every glyph's ink at the left edge of its advance cell (it ignores the outline's
//! left bearing), which spaces narrow glyphs apart ("127. 0. 0. 1: 5104"). The wrapper draws
//! each glyph at its pen position plus its bearing, as every text renderer does, and keeps
//! plotters' box and anchor rules so layouts do not move.

use std::path::Path;
use std::sync::{Once, OnceLock};

use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

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

/// The embedded font for [`GlyphBackend`]; `None` only if the compiled-in file failed to
/// parse, in which case text is left to plotters.
fn font() -> Option<&'static FontRef<'static>> {
    static F: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    F.get_or_init(|| FontRef::try_from_slice(FONT).ok())
        .as_ref()
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
    let inner = BitMapBackend::new(path, (lay.width as u32, lay.height as u32));
    let root = GlyphBackend(inner).into_drawing_area();
    draw(&root, l, &lay);
    root.present().map_err(|e| PngError(e.to_string()))
}

/// Draws the ladder into an RGB buffer of the [`Layout`]'s size (3 bytes a pixel, row-major);
/// returns the size. For tests and callers that encode the image themselves.
pub fn render_rgb(l: &Ladder) -> (u32, u32, Vec<u8>) {
    register_font();
    let lay = Layout::of(l);
    let (w, h) = (lay.width as u32, lay.height as u32);
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let root = GlyphBackend(BitMapBackend::with_buffer(&mut buf, (w, h))).into_drawing_area();
        draw(&root, l, &lay);
        let _ = root.present();
    }
    (w, h, buf)
}

/// A drawing backend that forwards everything to the one it wraps except text, which it
/// rasterises itself with the embedded font (see the module doc for why).
pub struct GlyphBackend<B>(pub B);

impl<B: DrawingBackend> DrawingBackend for GlyphBackend<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        self.0.estimate_text_size(text, style)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let Some(font) = font() else {
            return self.0.draw_text(text, style, pos);
        };
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        // The box and anchor exactly as plotters computes them, so that layouts measured
        // with plotters' estimate stay where they were.
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.0.get_size();
        let size = style.size() as f32;
        let scaled = font.as_scaled(size);
        let mut pen = 0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                pen += scaled.kern(p, id);
            }
            prev = Some(id);
            // Positioned at the pen (sub-pixel), so the outline's bounds carry the bearing.
            let glyph = id.with_scale_and_position(size, ab_glyph::point(pen, 0.0));
            if let Some(outline) = scaled.outline_glyph(glyph) {
                let b = outline.px_bounds();
                // Vertical placement as plotters does it (baseline at half the size).
                let (ox, oy) = (b.min.x as i32, (size / 2.0 + b.min.y) as i32);
                let mut err = None;
                outline.draw(|gx, gy, cov| {
                    if err.is_some() || cov <= 0.0 {
                        return;
                    }
                    let (x, y) =
                        trans.transform(ox + gx as i32 + dx - min_x, oy + gy as i32 + dy - min_y);
                    let (x, y) = (pos.0 + x, pos.1 + y);
                    if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                        if let Err(e) = self.0.draw_pixel((x, y), color.mix(cov as f64)) {
                            err = Some(e);
                        }
                    }
                });
                if let Some(e) = err {
                    return Err(e);
                }
            }
            pen += scaled.h_advance(id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ink columns of `text` drawn alone at size 20 on a white strip.
    fn ink_columns(text: &str) -> (Vec<bool>, f32) {
        register_font();
        let (w, h) = (400u32, 40u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let root =
                GlyphBackend(BitMapBackend::with_buffer(&mut buf, (w, h))).into_drawing_area();
            let style = ("monospace", 20.0).into_font().color(&BLACK);
            root.draw(&Text::new(text.to_string(), (0, 5), style))
                .unwrap();
            root.present().unwrap();
        }
        let cols = (0..w as usize)
            .map(|x| (0..h as usize).any(|y| buf[(y * w as usize + x) * 3] < 160))
            .collect();
        let advance = font()
            .unwrap()
            .as_scaled(20.0)
            .h_advance(font().unwrap().glyph_id('0'));
        (cols, advance)
    }

    #[test]
    fn narrow_glyphs_sit_in_the_middle_of_their_cell() {
        // "0.0:0": the '.' and ':' are centred in a monospace cell; plotters' own drawing put
        // their ink at the cell's left edge (3-4 px off at this size), which read as a space.
        let (cols, adv) = ink_columns("0.0:0");
        for cell in [1usize, 3] {
            let (a, b) = (
                (cell as f32 * adv) as usize,
                ((cell + 1) as f32 * adv) as usize,
            );
            let ink: Vec<usize> = (a..b).filter(|&x| cols[x]).collect();
            assert!(!ink.is_empty(), "cell {cell} has no ink");
            let mid = (ink[0] + ink[ink.len() - 1]) as f32 / 2.0;
            let centre = (cell as f32 + 0.5) * adv;
            assert!(
                (mid - centre).abs() <= 1.5,
                "cell {cell}: ink centred at {mid}, the cell's centre is {centre}"
            );
        }
    }

    #[test]
    fn text_keeps_plotters_anchor_and_width() {
        // The whole string's ink lies within the box plotters measures, from x = 0.
        let (cols, adv) = ink_columns("127.0.0.1:5104");
        let first = cols.iter().position(|&c| c).unwrap();
        let last = cols.iter().rposition(|&c| c).unwrap();
        assert!(first <= 3, "starts at {first}");
        assert!((last as f32) < 14.0 * adv + 1.0, "ends at {last}");
    }
}
