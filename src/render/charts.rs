//! Small charts for the HTML report: lines over capture time ([`time_lines`]), bars over
//! categories ([`bars`]) and histograms ([`histogram`]), each a self-contained SVG document of
//! [`WIDTH`]×[`HEIGHT`] pixels drawn with plotters' SVG backend.
//!
//! No input makes a chart panic: nothing to draw (no points, or only NaN/infinite ones) gives a
//! document saying "no data", one instant or one value gets a range around it, magnitudes are
//! clamped to ±[`LIMIT`], and a drawing error gives the "no data" document rather than a broken
//! one. Text that may come from the wire (titles, line names, category labels) is made printable
//! with [`crate::output::escape`] and cut; plotters escapes `<`, `>`, `&` and quotes itself.
//! Laying out axes and legends needs font metrics, so DejaVu Sans Mono (assets/fonts) is
//! registered as "monospace" (shared with the PNG backend); the SVG names the family only.

use std::ops::Range;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::time::Ts;

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 300;
/// Above this many categories, [`bars`] keeps the biggest and folds the rest into "other".
pub const MAX_BARS: usize = 30;
/// Values (and histogram edges) beyond ±LIMIT are drawn at ±LIMIT.
pub const LIMIT: f64 = 1e300;

const FAMILY: &str = "monospace";
const DAY: f64 = 86_400.0;
const NANOS_PER_DAY: i128 = 86_400_000_000_000;

/// One colour per line, in order (repeated past eight lines).
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One line of a time chart.
pub struct Line {
    pub name: String,
    pub points: Vec<(Ts, f64)>,
}

/// Lines over capture time (x: time, labelled HH:MM:SS; y from 0 to the max * 1.1, at least 1).
/// `step`: draw as steps (counts per interval) rather than straight segments.
///
/// Points need not be in time order. Time ticks fall on round times; their labels get
/// milliseconds or microseconds when the span is short, and the date when it is over a day.
/// More than one line gets a legend; a line of a single point is drawn as a dot.
pub fn time_lines(title: &str, y_label: &str, lines: &[Line], step: bool) -> String {
    let lines: Vec<(String, Vec<(Ts, f64)>)> = lines
        .iter()
        .map(|l| {
            let mut p: Vec<_> = l
                .points
                .iter()
                .filter_map(|&(t, v)| Some((t, finite(v)?)))
                .collect();
            p.sort_by_key(|&(t, _)| t);
            (clean(&l.name, 32), p)
        })
        .collect();
    let times = || lines.iter().flat_map(|(_, p)| p.iter().map(|&(t, _)| t));
    let (Some(t0), Some(t1)) = (times().min(), times().max()) else {
        return no_data(title);
    };
    // x is seconds since the midnight (UTC) before the first point: nanosecond-precise over
    // days, and a multiple of a round step since then is a round time of day.
    let origin = (t0.0 as i128).div_euclid(NANOS_PER_DAY) * NANOS_PER_DAY;
    let x = |t: Ts| (t.0 as i128 - origin) as f64 / 1e9;
    let (mut a, mut b) = (x(t0), x(t1));
    if b - a < 1e-6 {
        (a, b) = (a - 1.0, b + 1.0);
    }
    let (tick, ticks) = time_ticks(a, b);
    let label = |v: f64| {
        let t = Ts(
            (origin + (v * 1e9).round() as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        );
        let ((y, mo, d, h, mi, s, ns), _) = t.display_civil();
        match tick {
            _ if tick < 1e-3 => super::time_of_day(t),
            _ if tick < 1.0 => format!("{h:02}:{mi:02}:{s:02}.{:03}", ns / 1_000_000),
            _ if b - a <= DAY => format!("{h:02}:{mi:02}:{s:02}"),
            _ if tick < DAY => format!("{mo:02}-{d:02} {h:02}:{mi:02}"),
            _ => format!("{y}-{mo:02}-{d:02}"),
        }
    };
    let y = y_range(lines.iter().flat_map(|(_, p)| p.iter().map(|&(_, v)| v)));
    render(title, |root| {
        let mut chart = builder(root, title, 28).build_cartesian_2d(a..b, y)?;
        axes(&mut chart, "", y_label, 0)?;
        let ticks: Vec<(f64, String)> = ticks.iter().map(|&t| (t, label(t))).collect();
        x_labels(root, &mut chart, &ticks, false, true)?;
        for (i, (name, pts)) in lines.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            let mut path: Vec<(f64, f64)> = Vec::with_capacity(pts.len() * 2);
            for &(t, v) in pts {
                if let (true, Some(&(_, prev))) = (step, path.last()) {
                    path.push((x(t), prev));
                }
                path.push((x(t), v));
            }
            if let [p] = path[..] {
                chart.draw_series(std::iter::once(Circle::new(p, 3, c.filled())))?;
            }
            let drawn =
                chart.draw_series(std::iter::once(PathElement::new(path, c.stroke_width(2))))?;
            if lines.len() > 1 {
                drawn.label(name.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
            }
        }
        if lines.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font(font(11.0))
                .draw()?;
        }
        Ok(())
    })
}

/// Vertical bars over categories (e.g. SIP response codes "200", "486"), bar colour chosen by
/// `colour_of(label)` -> (r,g,b); value label above each bar.
///
/// Bars keep the given order. With more than [`MAX_BARS`] categories the `MAX_BARS - 1` biggest
/// are kept and the rest summed into a last bar "other" (coloured by `colour_of("other")`).
/// Categories whose value is NaN or infinite are left out.
pub fn bars(
    title: &str,
    y_label: &str,
    bars: &[(String, f64)],
    colour_of: &dyn Fn(&str) -> (u8, u8, u8),
) -> String {
    let mut kept: Vec<(&str, f64)> = bars
        .iter()
        .filter_map(|(l, v)| Some((l.as_str(), finite(*v)?)))
        .collect();
    if kept.len() > MAX_BARS {
        let mut by_size: Vec<usize> = (0..kept.len()).collect();
        by_size.sort_by(|&i, &j| kept[j].1.total_cmp(&kept[i].1));
        let other: f64 = by_size[MAX_BARS - 1..].iter().map(|&i| kept[i].1).sum();
        let mut keep = by_size[..MAX_BARS - 1].to_vec();
        keep.sort_unstable();
        let other = ("other", other.clamp(-LIMIT, LIMIT));
        kept = keep.iter().map(|&i| kept[i]).chain([other]).collect();
    }
    if kept.is_empty() {
        return no_data(title);
    }
    let many = kept.len() > 12;
    let y = y_range(kept.iter().map(|b| b.1));
    render(title, |root| {
        let mut chart = builder(root, title, if many { 56 } else { 28 })
            .build_cartesian_2d(-0.5..kept.len() as f64 - 0.5, y)?;
        axes(&mut chart, "", y_label, 0)?;
        // Category labels under the axis, turned to read downwards when there are many.
        let labels: Vec<(f64, String)> = kept
            .iter()
            .enumerate()
            .map(|(i, (l, _))| (i as f64, clean(l, if many { 7 } else { 12 })))
            .collect();
        x_labels(root, &mut chart, &labels, many, false)?;
        chart.draw_series(kept.iter().enumerate().map(|(i, &(l, v))| {
            let (r, g, b) = colour_of(l);
            Rectangle::new(
                [(i as f64 - 0.38, 0.0), (i as f64 + 0.38, v)],
                RGBColor(r, g, b).filled(),
            )
        }))?;
        // The value above the bar (below it when negative).
        let value = font(if many { 9.0 } else { 11.0 }).color(&BLACK);
        chart.draw_series(kept.iter().enumerate().map(|(i, &(_, v))| {
            let end = if v < 0.0 { VPos::Top } else { VPos::Bottom };
            Text::new(
                num(v),
                (i as f64, v),
                value.pos(Pos::new(HPos::Center, end)),
            )
        }))?;
        Ok(())
    })
}

/// A histogram from precomputed bins: (low edge, high edge, count).
///
/// Bins with a NaN or infinite edge are left out; swapped edges are put right. The x range
/// spans all bins (widened around a single edge value); y is the count, from 0 to at least 1.
pub fn histogram(title: &str, x_label: &str, bins: &[(f64, f64, u64)]) -> String {
    let bins: Vec<(f64, f64, f64)> = bins
        .iter()
        .filter_map(|&(a, b, c)| Some((finite(a)?, finite(b)?, c as f64)))
        .map(|(a, b, c)| (a.min(b), a.max(b), c))
        .collect();
    if bins.is_empty() {
        return no_data(title);
    }
    let lo = bins.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
    let hi = bins.iter().map(|b| b.1).fold(f64::NEG_INFINITY, f64::max);
    // A range too narrow for f64 to place ticks in is widened around its middle.
    let (lo, hi) = match hi - lo > lo.abs().max(hi.abs()) * 1e-9 {
        true => (lo, hi),
        false => (lo - lo.abs().max(1.0) / 2.0, hi + hi.abs().max(1.0) / 2.0),
    };
    let y = y_range(bins.iter().map(|b| b.2));
    render(title, |root| {
        let mut chart = builder(root, title, 40).build_cartesian_2d(lo..hi, y)?;
        axes(&mut chart, x_label, "count", 6)?;
        let fill = RGBColor(70, 130, 180).filled();
        chart.draw_series(
            bins.iter()
                .map(|&(a, b, c)| Rectangle::new([(a, 0.0), (b, c)], fill)),
        )?;
        chart.draw_series(
            bins.iter()
                .map(|&(a, b, c)| Rectangle::new([(a, 0.0), (b, c)], RGBColor(40, 90, 140))),
        )?;
        Ok(())
    })
}

/// Draws on a white [`WIDTH`]×[`HEIGHT`] SVG; any drawing error gives [`no_data`] instead.
fn render(title: &str, draw: impl FnOnce(&Area<'_>) -> Drawn) -> String {
    super::png::register_font();
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|_| draw(&root))
            .and_then(|_| root.present())
    };
    match drawn {
        Ok(()) => svg,
        Err(_) => no_data(title),
    }
}

/// The chart frame: title on top, room for the axis labels.
fn builder<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    x_label_area: u32,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.caption(clean(title, 70), font(16.0))
        .margin(10)
        .margin_right(44)
        .x_label_area_size(x_label_area)
        .y_label_area_size(64);
    b
}

/// The axes, y grid lines and y labels; `x_labels` numeric x labels (0: the caller draws them).
/// Y axes that count things (calls, responses, histogram bins): labelled in whole steps only.
const COUNT_AXES: [&str; 4] = ["count", "calls", "responses", "messages"];

fn axes(chart: &mut Chart<'_, '_>, x_desc: &str, y_desc: &str, x_labels: usize) -> Drawn {
    let whole = COUNT_AXES.contains(&y_desc);
    // A count axis up to 1 or 2 gets a label per whole number, never 0.5.
    let top = chart.y_range().end;
    let y_labels = if whole {
        // NaN and huge tops (odd inputs) saturate to 6 labels.
        (top.floor().clamp(1.0, 5.0) as usize + 1).clamp(2, 6)
    } else {
        6
    };
    let y_label = |v: &f64| {
        if whole && (v - v.round()).abs() > 1e-9 {
            String::new()
        } else {
            num(*v)
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_labels(x_labels)
        .x_label_formatter(&|v| num(*v))
        .y_labels(y_labels)
        .y_label_formatter(&y_label)
        .y_desc(clean(y_desc, 40))
        .label_style(font(12.0))
        .light_line_style(TRANSPARENT);
    if !x_desc.is_empty() {
        mesh.x_desc(clean(x_desc, 60));
    }
    mesh.draw()
}

/// Labels under the x axis at chart x positions, turned to read downwards if `turned`, with
/// vertical grid lines through them if `grid`.
fn x_labels(
    root: &Area<'_>,
    chart: &mut Chart<'_, '_>,
    labels: &[(f64, String)],
    turned: bool,
    grid: bool,
) -> Drawn {
    let Range { start: y0, end: y1 } = chart.y_range();
    let style = match turned {
        false => font(12.0)
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top)),
        true => font(11.0)
            .transform(FontTransform::Rotate90)
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center)),
    };
    for (x, l) in labels {
        if grid {
            chart.draw_series([PathElement::new(
                vec![(*x, y0), (*x, y1)],
                RGBColor(220, 220, 220),
            )])?;
        }
        let (px, py) = chart.backend_coord(&(*x, y0));
        root.draw(&Text::new(l.as_str(), (px, py + 6), style.clone()))?;
    }
    Ok(())
}

/// Ticks over [a, b] seconds: the step, the smallest round one giving at most six, and the ticks.
fn time_ticks(a: f64, b: f64) -> (f64, Vec<f64>) {
    const ROUND: [u32; 20] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
        172800, 604800,
    ];
    let want = (b - a) / 6.0;
    let step = if want < 1.0 {
        let p = 10f64.powf(want.log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * p)
            .find(|&s| s >= want)
            .unwrap_or(1.0)
    } else {
        let round = ROUND.into_iter().map(f64::from).find(|&s| s >= want);
        round.unwrap_or((want / (7.0 * DAY)).ceil() * 7.0 * DAY)
    };
    let first = (a / step).ceil();
    let ticks = (0..7).map(|k| (first + k as f64) * step);
    (step, ticks.filter(|&t| t <= b).collect())
}

/// The document shown when there is nothing to draw: the title and "no data" in the middle.
/// Written by hand so that it cannot fail.
fn no_data(title: &str) -> String {
    let title = clean(title, 70)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        concat!(
            r#"<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">"#,
            r#"<rect x="0" y="0" width="{w}" height="{h}" fill="white"/>"#,
            r#"<text x="{cx}" y="28" text-anchor="middle" font-family="{f}" font-size="13">{t}</text>"#,
            r#"<text x="{cx}" y="{cy}" text-anchor="middle" font-family="{f}" font-size="12" fill="gray">no data</text>"#,
            "</svg>\n"
        ),
        w = WIDTH,
        h = HEIGHT,
        cx = WIDTH / 2,
        cy = HEIGHT / 2,
        f = FAMILY,
        t = title
    )
}

fn font(size: f64) -> FontDesc<'static> {
    (FAMILY, size).into_font()
}

/// Wire text made printable (control characters spelled out, the two code points XML forbids
/// replaced) and cut to `max` columns. XML escaping is left to plotters.
fn clean(s: &str, max: usize) -> String {
    let s = crate::output::escape(s).replace(['\u{fffe}', '\u{ffff}'], "\u{fffd}");
    crate::output::fit(&s, max)
}

/// The value, clamped to ±[`LIMIT`]; `None` for NaN and infinities.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then(|| v.clamp(-LIMIT, LIMIT))
}

/// A value axis from 0 (or 10% below the lowest value, if negative) to 10% above the highest,
/// and to at least 1.
fn y_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    lo * 1.1..(hi * 1.1).max(1.0)
}

/// A compact number: integers whole, others to three decimals, very big or small in e-notation.
fn num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.2e}")
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: i64 = 1_767_261_600_000_000_000; // 2026-01-01T10:00:00Z
    const S: i64 = 1_000_000_000;

    /// Parses the document, checks it has `title` and whether it was drawn (not "no data"), and
    /// returns its text nodes as `|a|b|...|`.
    fn check(svg: &str, title: &str, drawn: bool) -> String {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        let text = format!("|{}|", texts.join("|"));
        assert!(text.contains(title), "{title}: {text}");
        assert_eq!(!text.contains("|no data|"), drawn, "{title}: {text}");
        text
    }

    fn line(name: &str, points: &[(i64, f64)]) -> Line {
        let points = points.iter().map(|&(t, v)| (Ts(t), v)).collect();
        Line {
            name: name.into(),
            points,
        }
    }

    fn cats(v: &[(&str, f64)]) -> Vec<(String, f64)> {
        v.iter().map(|&(l, v)| (l.to_string(), v)).collect()
    }

    #[test]
    fn time_lines_draw_lines_legend_and_round_times() {
        let calls = line("calls", &[(T, 1.0), (T + 30 * S, 4.0), (T + 60 * S, 2.0)]);
        let lines = [calls, line("failed", &[(T, 0.0), (T + 60 * S, 1.0)])];
        for step in [false, true] {
            let text = check(&time_lines("Calls", "calls", &lines, step), "Calls", true);
            assert!(
                text.contains("|failed|") && text.contains("|10:00:30|"),
                "{text}"
            );
        }
        let text = check(
            &time_lines("One", "y", &[line("a", &[(T, 1.0)])], false),
            "One",
            true,
        );
        assert!(
            text.contains("|10:00:00.000|") && !text.contains("|a|"),
            "{text}"
        );
    }

    #[test]
    fn time_lines_odd_inputs() {
        let cases = [
            ("empty", vec![], false),
            ("no points", vec![line("a", &[])], false),
            (
                "nan",
                vec![line("a", &[(T, f64::NAN), (T + S, f64::INFINITY)])],
                false,
            ),
            ("zeros", vec![line("a", &[(T, 0.0), (T + S, 0.0)])], true),
            (
                "instant",
                vec![line("a", &[(T, 1.0), (T, 5.0)]), line("b", &[(T, 2.0)])],
                true,
            ),
            (
                "years",
                vec![line("a", &[(T, 1.0), (T + 3 * 365 * 86_400 * S, 2.0)])],
                true,
            ),
            (
                "extremes",
                vec![line("a", &[(i64::MIN, f64::MAX), (i64::MAX, -1e308)])],
                true,
            ),
            (
                "nanosecond",
                vec![line("a", &[(T, 1.0), (T + 1, 2.0)])],
                true,
            ),
            (
                "unsorted",
                vec![line("a", &[(T + 5 * S, 1.0), (T, 2.0), (T + S, -0.5)])],
                true,
            ),
        ];
        for (title, lines, drawn) in cases {
            for step in [false, true] {
                check(&time_lines(title, "y", &lines, step), title, drawn);
            }
        }
    }

    #[test]
    fn bars_colours_values_and_other() {
        let codes = cats(&[("200", 120.0), ("486", 7.0), ("503", 2.5)]);
        let green = |l: &str| if l == "200" { (0, 128, 0) } else { (200, 0, 0) };
        let svg = bars("Final responses", "count", &codes, &green);
        let text = check(&svg, "Final responses", true);
        assert!(["|200|", "|486|", "|120|", "|7|", "|2.5|"]
            .iter()
            .all(|s| text.contains(s)));
        assert!(svg.contains("#008000") && svg.contains("#C80000"), "{svg}");

        let many: Vec<(String, f64)> = (0..300).map(|i| (format!("c{i}"), i as f64)).collect();
        let text = check(&bars("Many", "n", &many, &|_| (1, 2, 3)), "Many", true);
        assert!(text.contains("|c299|") && text.contains("|c271|") && !text.contains("|c270|"));
        assert!(
            text.contains("|other|") && text.contains(&format!("|{}|", (0..=270).sum::<i32>()))
        );

        for (title, input, drawn) in [
            ("empty", vec![], false),
            (
                "nan",
                cats(&[("a", f64::NAN), ("b", f64::NEG_INFINITY)]),
                false,
            ),
            ("zeros", cats(&[("a", 0.0), ("b", 0.0)]), true),
            ("single", cats(&[("a", 1.0)]), true),
            (
                "huge",
                cats(&[("a", f64::MAX), ("b", -f64::MAX), ("c", 1e-300)]),
                true,
            ),
        ] {
            check(&bars(title, "y", &input, &|_| (0, 0, 0)), title, drawn);
        }
    }

    #[test]
    fn histogram_bins_and_odd_inputs() {
        let bins = [(0.0, 20.0, 5), (20.0, 40.0, 12), (40.0, 60.0, 1)];
        let text = check(&histogram("Setup time", "ms", &bins), "Setup time", true);
        assert!(text.contains("|ms|") && text.contains("|count|") && text.contains("|40|"));
        for (title, input, drawn) in [
            ("empty", vec![], false),
            (
                "nan",
                vec![(f64::NAN, 1.0, 3), (0.0, f64::INFINITY, 2)],
                false,
            ),
            ("zero width", vec![(5.0, 5.0, 3)], true),
            ("zero counts", vec![(0.0, 1.0, 0), (1.0, 2.0, 0)], true),
            ("swapped", vec![(2.0, 1.0, 4)], true),
            (
                "extremes",
                vec![(-f64::MAX, f64::MAX, u64::MAX), (1e-300, 2e-300, 1)],
                true,
            ),
        ] {
            check(&histogram(title, "x", &input), title, drawn);
        }
    }

    #[test]
    fn wire_text_is_escaped() {
        let evil = "<script>&\"'\u{1}\u{ffff}";
        let lines = [line(evil, &[(T, 1.0)]), line("b", &[(T + S, 2.0)])];
        let svgs = [
            (time_lines(evil, evil, &lines, false), true),
            (
                bars(evil, evil, &cats(&[(evil, 1.0)]), &|_| (0, 0, 0)),
                true,
            ),
            (histogram(evil, evil, &[(0.0, 1.0, 1)]), true),
            (histogram(evil, evil, &[]), false),
        ];
        for (svg, drawn) in &svgs {
            assert!(!svg.contains("<script") && !svg.contains("&\""), "{svg}");
            let text = check(svg, "<script>&\"'\\x01\u{fffd}", *drawn);
            assert!(!drawn || text.matches("<script>").count() >= 3, "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_input_gives_a_document(
            points in proptest::collection::vec((any::<i64>(), any::<f64>()), 0..8),
            values in proptest::collection::vec(any::<f64>(), 0..80),
            step in any::<bool>(),
        ) {
            let lines = [Line { name: "a".into(), points: points.iter().map(|&(t, v)| (Ts(t), v)).collect() }];
            check(&time_lines("t", "y", &lines, step), "t", points.iter().any(|p| p.1.is_finite()));
            let cats: Vec<(String, f64)> = values.iter().map(|&v| (v.to_string(), v)).collect();
            check(&bars("b", "y", &cats, &|_| (0, 0, 0)), "b", values.iter().any(|v| v.is_finite()));
            let bins: Vec<_> = values.chunks(2).map(|c| (c[0], c[c.len() - 1], c[0].to_bits())).collect();
            let drawn = bins.iter().any(|b| b.0.is_finite() && b.1.is_finite());
            check(&histogram("h", "x", &bins), "h", drawn);
        }
    }
}
