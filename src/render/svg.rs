//! The ladder as SVG, drawn with plotters' SVG backend (no font backend needed: text is placed
//! and anchored by SVG itself, and plotters escapes it).
//!
//! Layout: a time gutter on the left, one lifeline per column, one row per message with its
//! label above the arrow and the SDP summary below it. The column headings are repeated every
//! [`REPEAT_HEADINGS`] rows so a long ladder stays readable; the width grows with the number of
//! endpoints. [`Layout`] is shared with the HTML backend, which places its clickable rows over
//! the same coordinates.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Ladder;

pub const GUTTER: i32 = 250;
pub const SPACING: i32 = 240;
pub const HEADING: i32 = 56;
pub const ROW: i32 = 30;
pub const SDP_ROW: i32 = 16;
pub const REPEAT_HEADINGS: usize = 40;
/// The title band at the top (Call-ID, date and zone, outcome).
pub const TITLE: i32 = 34;
/// The widest a drawing grows to fit its text (a longer title is cut, with `…`).
pub const MAX_WIDTH: i32 = 4000;
/// Characters of an SDP summary drawn under its arrow (the rest is cut, with `…`).
pub const SDP_CHARS: usize = 120;

/// Pixels `s` takes at plotters font size `size` in the monospace font, rounded up. DejaVu
/// Sans Mono advances 1233/2048 em. Plotters writes SVG text at `size / 1.24` px (0.486 ×
/// size a character, in a browser's monospace font) and scales bitmap glyphs to a height of
/// `size` (an em of 2048/2384 × size: 0.517 × size a character); the wider of the two.
pub fn text_px(s: &str, size: f64) -> i32 {
    (s.chars().count() as f64 * size * 0.52).ceil() as i32
}

/// Where everything goes; computed once, used by the SVG and HTML backends alike.
pub struct Layout {
    pub width: i32,
    pub height: i32,
    /// Top y of each row (the arrow is drawn at `top + ROW - 8`).
    pub row_top: Vec<i32>,
    /// y of each repeated heading block.
    pub headings: Vec<i32>,
}

impl Layout {
    pub fn of(l: &Ladder) -> Layout {
        let n = l.columns.len().max(1) as i32;
        // Wide enough for the columns and for every label and SDP line drawn whole: text
        // that ran past the last column was clipped by the image's edge.
        let mut width = GUTTER + n * SPACING + 40;
        for r in &l.rows {
            let (a, b) = (Layout::center(r.from), Layout::center(r.to));
            let label = text_px(&row_label(l, r), 14.0);
            let right = if a == b {
                a + 36 + label
            } else {
                (a + b) / 2 + label / 2
            };
            width = width.max(right + 20);
            if let Some(sdp) = &r.sdp {
                let x = Layout::center(r.from.min(r.to)) + 6;
                width = width.max(x + text_px(&sdp_label(sdp), 12.0) + 20);
            }
        }
        width = width
            .max(10 + text_px(&l.title(), 16.0) + 20)
            .min(MAX_WIDTH);
        let mut y = TITLE;
        let mut row_top = Vec::with_capacity(l.rows.len());
        let mut headings = Vec::new();
        for (i, r) in l.rows.iter().enumerate() {
            if i % REPEAT_HEADINGS == 0 {
                headings.push(y);
                y += HEADING;
            }
            row_top.push(y);
            y += ROW + if r.sdp.is_some() { SDP_ROW } else { 0 };
        }
        if headings.is_empty() {
            headings.push(TITLE);
            y += HEADING;
        }
        Layout {
            width,
            height: y + 20,
            row_top,
            headings,
        }
    }

    pub fn center(i: usize) -> i32 {
        GUTTER + SPACING / 2 + i as i32 * SPACING
    }
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn cut(s: &str, max: usize) -> String {
    crate::output::fit(&crate::output::escape(s), max)
}

/// The text above a row's arrow: its label, the repeat count, the leg of a multi-leg ladder.
fn row_label(l: &Ladder, r: &super::Row) -> String {
    let mut label = crate::output::escape(&r.label);
    if r.count > 1 {
        label.push_str(&format!(" ×{}", r.count));
    }
    if l.call_ids.len() > 1 {
        label.push_str(&format!(" [leg {}]", r.leg + 1));
    }
    label
}

/// The line under an arrow that carried SDP.
fn sdp_label(sdp: &str) -> String {
    format!("SDP {}", cut(sdp, SDP_CHARS))
}

/// Renders the ladder as an SVG document.
pub fn render(l: &Ladder) -> String {
    let lay = Layout::of(l);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (lay.width as u32, lay.height as u32))
            .into_drawing_area();
        draw(&root, l, &lay);
        let _ = root.present();
    }
    svg
}

/// Draws the ladder on any plotters backend (SVG here, a bitmap for PNG).
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    l: &Ladder,
    lay: &Layout,
) {
    {
        let _ = root.fill(&WHITE);
        let font = |size: f64| ("monospace", size).into_font();
        let centered = Pos::new(HPos::Center, VPos::Bottom);
        let grey = RGBColor(110, 110, 110);
        let _ = root.draw(&Text::new(
            cut(&l.title(), ((lay.width - 30) * 100 / 832).max(20) as usize),
            (10, 24),
            font(16.0).color(&BLACK),
        ));
        // Lifelines.
        for i in 0..l.columns.len() {
            let x = Layout::center(i);
            let _ = root.draw(&PathElement::new(
                vec![(x, TITLE + HEADING - 6), (x, lay.height - 10)],
                RGBColor(190, 190, 190).stroke_width(1),
            ));
        }
        // Headings, repeated down long ladders.
        for &hy in &lay.headings {
            for (i, c) in l.columns.iter().enumerate() {
                let x = Layout::center(i);
                let (_, second) = l.column_title(i);
                let _ = root.draw(&Rectangle::new(
                    [
                        (x - SPACING / 2 + 10, hy + 6),
                        (x + SPACING / 2 - 10, hy + HEADING - 8),
                    ],
                    RGBColor(240, 244, 250).filled(),
                ));
                let _ = root.draw(&Text::new(
                    cut(&c.address, 30),
                    (x, hy + 26),
                    font(15.0).color(&BLACK).pos(centered),
                ));
                if let Some(n) = &second {
                    let _ = root.draw(&Text::new(
                        cut(n, 30),
                        (x, hy + 44),
                        font(13.0).color(&grey).pos(centered),
                    ));
                }
            }
        }
        for (r, &top) in l.rows.iter().zip(&lay.row_top) {
            let y = top + ROW - 8;
            let color = if r.rtp.is_some() {
                RGBColor(120, 120, 120)
            } else {
                PALETTE[(r.transaction % PALETTE.len() as u64) as usize]
            };
            let gutter = format!(
                "{} +{:.3}  {}",
                crate::render::time_of_day(r.ts),
                r.delta as f64 / 1e9,
                crate::output::fit(&crate::output::escape(&r.cseq), 12)
            );
            let _ = root.draw(&Text::new(
                gutter,
                (8, y + 4),
                font(13.0)
                    .color(&grey)
                    .pos(Pos::new(HPos::Left, VPos::Bottom)),
            ));
            let (a, b) = (Layout::center(r.from), Layout::center(r.to));
            let label = row_label(l, r);
            if a == b {
                let _ = root.draw(&PathElement::new(
                    vec![(a, y - 8), (a + 30, y - 8), (a + 30, y), (a + 4, y)],
                    color.stroke_width(2),
                ));
                let _ = root.draw(&Text::new(
                    label,
                    (a + 36, y),
                    font(14.0)
                        .color(&color)
                        .pos(Pos::new(HPos::Left, VPos::Bottom)),
                ));
            } else {
                let _ = root.draw(&PathElement::new(
                    vec![(a, y), (b, y)],
                    color.stroke_width(2),
                ));
                let dir = if b > a { -1 } else { 1 };
                let _ = root.draw(&Polygon::new(
                    vec![(b, y), (b + dir * 10, y - 5), (b + dir * 10, y + 5)],
                    color.filled(),
                ));
                // Labels are drawn whole: a long reason phrase may overhang its arrow, which
                // reads better than a cut one.
                let _ = root.draw(&Text::new(
                    label,
                    ((a + b) / 2, y - 3),
                    font(14.0).color(&color).pos(centered),
                ));
            }
            if let Some(sdp) = &r.sdp {
                let x = Layout::center(r.from.min(r.to)) + 6;
                let _ = root.draw(&Text::new(
                    sdp_label(sdp),
                    (x, y + SDP_ROW),
                    font(12.0)
                        .color(&grey)
                        .pos(Pos::new(HPos::Left, VPos::Bottom)),
                ));
            }
        }
    }
}
