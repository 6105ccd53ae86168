//! Charts for the HTML report as inline SVG: reliability diagrams, histograms, confusion heat
//! maps, scatter plots and line charts.
//!
//! Plain data in, one `<svg>` string out. Every chart is drawn on a [`Frame`] (size, margins,
//! scales, axes, title, legend) so the charts share one look; every text goes through
//! [`escape::html`]; non-finite values are skipped, never written into an attribute.

use std::fmt::Write as _;

use super::escape::html as esc;

/// The teacher's colour, everywhere.
pub(crate) const TEACHER: &str = "#2563eb";
/// The student's colour, everywhere.
pub(crate) const STUDENT: &str = "#f97316";
const AXIS: &str = "#6b7280";
const GRID: &str = "#e5e7eb";
const INK: &str = "#1f2937";

const WIDTH: f64 = 460.0;
const HEIGHT: f64 = 320.0;

/// One calibration bin, as the reliability diagram needs it.
pub(crate) struct Bin {
    pub(crate) lower: f64,
    pub(crate) upper: f64,
    pub(crate) count: u64,
    pub(crate) accuracy: Option<f64>,
    pub(crate) confidence: Option<f64>,
}

/// One point of a scatter plot.
pub(crate) struct Point {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) label: String,
    pub(crate) highlight: bool,
}

/// One series of a line chart.
pub(crate) struct Line<'a> {
    pub(crate) name: &'a str,
    pub(crate) color: &'a str,
    pub(crate) ys: &'a [f64],
    pub(crate) right_axis: bool,
}

/// A linear (or log1p) scale from data to pixels.
#[derive(Clone, Copy)]
struct Scale {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
    log: bool,
}

impl Scale {
    fn f(&self, v: f64) -> f64 {
        let t = |x: f64| {
            if self.log {
                (1.0 + x.max(0.0)).log10()
            } else {
                x
            }
        };
        let (a, b) = (t(self.d0), t(self.d1));
        let span = if (b - a).abs() < f64::EPSILON {
            1.0
        } else {
            b - a
        };
        self.p0 + (t(v) - a) / span * (self.p1 - self.p0)
    }
}

/// "Nice" tick values covering `[lo, hi]` (steps of 1, 2 or 5 times a power of ten).
fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() * step;
    let mut out = Vec::new();
    let mut v = start;
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

/// Ticks for a log1p count axis: 0, 1, 10, 100...
fn log_ticks(hi: f64) -> Vec<f64> {
    let mut out = vec![0.0];
    let mut v = 1.0;
    while v <= hi {
        out.push(v);
        v *= 10.0;
    }
    out
}

/// Compact tick label.
fn label(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".to_owned()
    } else if a >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if a >= 100.0 || (v.fract() == 0.0 && a >= 1.0) {
        format!("{v:.0}")
    } else if a < 0.001 {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Shortens a name for an axis, keeping the whole one for the tooltip.
fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// The drawing area of one chart, with its SVG text so far.
struct Frame {
    svg: String,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn new(title: &str, right_margin: f64) -> Self {
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" \
             role=\"img\" font-family=\"inherit\" font-size=\"11\"><title>{t}</title>\
             <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>\
             <text x=\"{x}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"600\" fill=\"{INK}\">{t}</text>",
            t = esc(title),
            x = WIDTH / 2.0
        );
        Frame {
            svg,
            left: 56.0,
            right: WIDTH - right_margin,
            top: 44.0,
            bottom: HEIGHT - 44.0,
        }
    }

    fn x(&self, d0: f64, d1: f64) -> Scale {
        Scale {
            d0,
            d1,
            p0: self.left,
            p1: self.right,
            log: false,
        }
    }

    fn y(&self, d0: f64, d1: f64, log: bool) -> Scale {
        Scale {
            d0,
            d1,
            p0: self.bottom,
            p1: self.top,
            log,
        }
    }

    /// Grid lines, tick labels and axis titles; `y2` adds a right-hand axis.
    fn axes(
        &mut self,
        x: (&Scale, &[f64], &str),
        y: (&Scale, &[f64], &str),
        y2: Option<(&Scale, &[f64], &str)>,
    ) {
        let (xs, xt, xl) = x;
        let (ys, yt, yl) = y;
        for &t in yt {
            let py = ys.f(t);
            let _ = write!(
                self.svg,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"{GRID}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{AXIS}\">{}</text>",
                self.left,
                self.right,
                self.left - 6.0,
                py + 4.0,
                esc(&label(t))
            );
        }
        for &t in xt {
            let px = xs.f(t);
            let _ = write!(
                self.svg,
                "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{AXIS}\"/>\
                 <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{AXIS}\">{}</text>",
                self.bottom,
                self.bottom + 4.0,
                self.bottom + 16.0,
                esc(&label(t))
            );
        }
        let _ = write!(
            self.svg,
            "<line x1=\"{l:.1}\" x2=\"{r:.1}\" y1=\"{b:.1}\" y2=\"{b:.1}\" stroke=\"{AXIS}\"/>\
             <line x1=\"{l:.1}\" x2=\"{l:.1}\" y1=\"{t:.1}\" y2=\"{b:.1}\" stroke=\"{AXIS}\"/>\
             <text x=\"{cx:.1}\" y=\"{xy:.1}\" text-anchor=\"middle\" fill=\"{INK}\">{xl}</text>\
             <text transform=\"translate(14 {cy:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"{INK}\">{yl}</text>",
            l = self.left,
            r = self.right,
            b = self.bottom,
            t = self.top,
            cx = (self.left + self.right) / 2.0,
            xy = self.bottom + 34.0,
            cy = (self.top + self.bottom) / 2.0,
            xl = esc(xl),
            yl = esc(yl)
        );
        if let Some((s2, t2, l2)) = y2 {
            for &t in t2 {
                let py = s2.f(t);
                let _ = write!(
                    self.svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{AXIS}\">{}</text>",
                    self.right + 6.0,
                    py + 4.0,
                    esc(&label(t))
                );
            }
            let _ = write!(
                self.svg,
                "<line x1=\"{r:.1}\" x2=\"{r:.1}\" y1=\"{t:.1}\" y2=\"{b:.1}\" stroke=\"{AXIS}\"/>\
                 <text transform=\"translate({x:.1} {cy:.1}) rotate(90)\" text-anchor=\"middle\" fill=\"{INK}\">{l2}</text>",
                r = self.right,
                t = self.top,
                b = self.bottom,
                x = WIDTH - 10.0,
                cy = (self.top + self.bottom) / 2.0,
                l2 = esc(l2)
            );
        }
    }

    /// A legend row under the title.
    fn legend(&mut self, items: &[(&str, &str)]) {
        let mut x = self.left;
        for (name, color) in items {
            let _ = write!(
                self.svg,
                "<rect x=\"{x:.1}\" y=\"27\" width=\"10\" height=\"10\" fill=\"{color}\" fill-opacity=\"0.8\"/>\
                 <text x=\"{:.1}\" y=\"36\" fill=\"{INK}\">{}</text>",
                x + 14.0,
                esc(name)
            );
            x += 24.0 + 6.5 * name.chars().count() as f64;
        }
    }

    fn no_data(mut self) -> String {
        let _ = write!(
            self.svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{AXIS}\">no data</text>",
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        self.finish()
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>");
        self.svg
    }
}

/// Reliability diagram: a bar of accuracy per non-empty confidence bin (empty bins draw
/// nothing), a dark tick at the bin's mean confidence with the gap shaded, the diagonal of
/// perfect calibration, and each bin's count above its bar.
pub(crate) fn reliability(title: &str, bins: &[Bin], color: &str, ece: f64) -> String {
    let title = if ece.is_finite() {
        format!("{title} (ECE {ece:.4})")
    } else {
        title.to_owned()
    };
    let mut f = Frame::new(&title, 16.0);
    f.legend(&[("accuracy", color), ("gap to mean confidence", "#ef4444")]);
    let (xs, ys) = (f.x(0.0, 1.0), f.y(0.0, 1.0, false));
    let t = ticks(0.0, 1.0, 5);
    f.axes((&xs, &t, "confidence"), (&ys, &t, "accuracy"), None);
    let _ = write!(
        f.svg,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{AXIS}\" stroke-dasharray=\"4 3\"/>",
        xs.f(0.0),
        ys.f(0.0),
        xs.f(1.0),
        ys.f(1.0)
    );
    for b in bins {
        let (Some(acc), Some(conf)) = (b.accuracy, b.confidence) else {
            continue;
        };
        if !(acc.is_finite() && conf.is_finite() && b.lower.is_finite() && b.upper.is_finite()) {
            continue;
        }
        let (x0, x1) = (xs.f(b.lower) + 1.0, xs.f(b.upper) - 1.0);
        let (ya, yc, y0) = (ys.f(acc), ys.f(conf), ys.f(0.0));
        let _ = write!(
            f.svg,
            "<rect x=\"{x0:.1}\" y=\"{ya:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\" fill-opacity=\"0.85\">\
             <title>{}</title></rect>\
             <rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#ef4444\" fill-opacity=\"0.25\"/>\
             <line x1=\"{x0:.1}\" x2=\"{x1:.1}\" y1=\"{yc:.1}\" y2=\"{yc:.1}\" stroke=\"{INK}\" stroke-width=\"2\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"9\" fill=\"{AXIS}\">{}</text>",
            x1 - x0,
            (y0 - ya).max(0.0),
            esc(&format!(
                "[{:.2}, {:.2}): {} predictions, accuracy {acc:.3}, mean confidence {conf:.3}",
                b.lower, b.upper, b.count
            )),
            ya.min(yc),
            x1 - x0,
            (ya - yc).abs(),
            (x0 + x1) / 2.0,
            ya.min(yc) - 4.0,
            esc(&label(b.count as f64))
        );
    }
    f.finish()
}

/// Overlaid histograms over shared bin edges, one translucent series per model, with a legend;
/// `log_y` draws counts on a log(1 + count) axis.
pub(crate) fn histogram(
    title: &str,
    x_label: &str,
    edges: &[f64],
    series: &[(&str, &str, &[u64])],
    log_y: bool,
) -> String {
    histogram_with_markers(title, x_label, edges, series, log_y, &[])
}

/// [`histogram`] with labelled vertical markers (e.g. percentiles).
pub(crate) fn histogram_with_markers(
    title: &str,
    x_label: &str,
    edges: &[f64],
    series: &[(&str, &str, &[u64])],
    log_y: bool,
    markers: &[(&str, f64)],
) -> String {
    let mut f = Frame::new(title, 16.0);
    let finite = edges.len() >= 2 && edges.iter().all(|e| e.is_finite());
    if !finite || series.iter().all(|(_, _, c)| c.iter().all(|&v| v == 0)) {
        return f.no_data();
    }
    if series.len() > 1 {
        let items: Vec<(&str, &str)> = series.iter().map(|(n, c, _)| (*n, *c)).collect();
        f.legend(&items);
    }
    let (lo, hi) = (edges[0], edges[edges.len() - 1]);
    let max = series
        .iter()
        .flat_map(|(_, _, c)| c.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let xs = f.x(lo, if hi > lo { hi } else { lo + 1.0 });
    let ys = f.y(0.0, max, log_y);
    let yt = if log_y {
        log_ticks(max)
    } else {
        ticks(0.0, max, 5)
    };
    let xt = ticks(lo, hi, 6);
    f.axes((&xs, &xt, x_label), (&ys, &yt, "examples"), None);
    let opacity = if series.len() > 1 { 0.55 } else { 0.85 };
    for (name, color, counts) in series {
        for (i, &c) in counts.iter().enumerate().take(edges.len() - 1) {
            if c == 0 {
                continue;
            }
            let (x0, x1) = (xs.f(edges[i]), xs.f(edges[i + 1]));
            let y = ys.f(c as f64);
            let _ = write!(
                f.svg,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\" fill-opacity=\"{opacity}\">\
                 <title>{}</title></rect>",
                x0 + 0.5,
                (x1 - x0 - 1.0).max(0.5),
                (ys.f(0.0) - y).max(0.0),
                esc(&format!("{name}: {c} in [{}, {})", label(edges[i]), label(edges[i + 1])))
            );
        }
    }
    for (i, (name, v)) in markers.iter().enumerate() {
        if !v.is_finite() || *v < lo || *v > hi {
            continue;
        }
        let x = xs.f(*v);
        let _ = write!(
            f.svg,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{INK}\" stroke-dasharray=\"3 3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{INK}\">{}</text>",
            f.top,
            f.bottom,
            x + 3.0,
            f.top + 10.0 + 12.0 * i as f64,
            esc(&format!("{name} {}", label(*v)))
        );
    }
    f.finish()
}

/// Confusion-matrix heat map: rows are true classes, columns predictions; each cell is shaded by
/// its share of the row and shows its count.
pub(crate) fn heatmap(title: &str, labels: &[String], counts: &[Vec<u64>], color: &str) -> String {
    let mut f = Frame::new(title, 16.0);
    let n = labels.len().min(counts.len());
    if n == 0 {
        return f.no_data();
    }
    f.left = 86.0;
    f.top = 34.0;
    f.bottom = HEIGHT - 52.0;
    let size = ((f.right - f.left).min(f.bottom - f.top) / n as f64).floor();
    let (x0, y0) = (f.left + ((f.right - f.left) - size * n as f64) / 2.0, f.top);
    let font = (size * 0.32).clamp(7.0, 12.0);
    for (r, row) in counts.iter().take(n).enumerate() {
        let total: u64 = row.iter().sum();
        for (c, &v) in row.iter().take(n).enumerate() {
            let share = if total == 0 {
                0.0
            } else {
                v as f64 / total as f64
            };
            let (x, y) = (x0 + c as f64 * size, y0 + r as f64 * size);
            let text = if share > 0.55 { "#ffffff" } else { INK };
            let _ = write!(
                f.svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{size:.1}\" height=\"{size:.1}\" fill=\"{color}\" \
                 fill-opacity=\"{:.3}\" stroke=\"#ffffff\"><title>{}</title></rect>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{font:.0}\" fill=\"{text}\">{}</text>",
                0.06 + 0.94 * share,
                esc(&format!(
                    "true {} → predicted {}: {v} ({:.1}% of the row)",
                    labels[r],
                    labels[c],
                    100.0 * share
                )),
                x + size / 2.0,
                y + size / 2.0 + font / 3.0,
                esc(&label(v as f64))
            );
        }
    }
    let max_chars = ((size / 6.0) as usize).clamp(3, 12);
    for (i, name) in labels.iter().take(n).enumerate() {
        let cy = y0 + (i as f64 + 0.5) * size;
        let cx = x0 + (i as f64 + 0.5) * size;
        let _ = write!(
            f.svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{INK}\"><title>{full}</title>{}</text>\
             <text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{INK}\"><title>{full}</title>{}</text>",
            x0 - 6.0,
            cy + 4.0,
            esc(&short(name, 12)),
            y0 + n as f64 * size + 14.0,
            esc(&short(name, max_chars)),
            full = esc(name)
        );
    }
    let _ = write!(
        f.svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{AXIS}\">predicted</text>\
         <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"{AXIS}\">true</text>",
        x0 + n as f64 * size / 2.0,
        y0 + n as f64 * size + 32.0,
        y0 + n as f64 * size / 2.0
    );
    f.finish()
}

/// Padded data range, sensible for a single value or equal values.
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.12
    } else {
        lo.abs().max(1e-3) * 0.1
    };
    Some((lo - pad, hi + pad))
}

/// Scatter plot with labelled points; highlighted points are filled and, with `frontier`,
/// joined by a step line in order of x.
pub(crate) fn scatter(
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[Point],
    frontier: bool,
) -> String {
    let mut f = Frame::new(title, 16.0);
    let ok: Vec<&Point> = points
        .iter()
        .filter(|p| p.x.is_finite() && p.y.is_finite())
        .collect();
    let (Some((x0, x1)), Some((y0, y1))) =
        (range(ok.iter().map(|p| p.x)), range(ok.iter().map(|p| p.y)))
    else {
        return f.no_data();
    };
    f.legend(&[("Pareto-optimal", STUDENT), ("dominated", "#9ca3af")]);
    let (xs, ys) = (f.x(x0, x1), f.y(y0, y1, false));
    f.axes(
        (&xs, &ticks(x0, x1, 5), x_label),
        (&ys, &ticks(y0, y1, 5), y_label),
        None,
    );
    if frontier {
        let mut best: Vec<&&Point> = ok.iter().filter(|p| p.highlight).collect();
        best.sort_by(|a, b| a.x.total_cmp(&b.x));
        if best.len() > 1 {
            let mut d = String::new();
            for (i, p) in best.iter().enumerate() {
                let (px, py) = (xs.f(p.x), ys.f(p.y));
                if i == 0 {
                    let _ = write!(d, "M{px:.1} {py:.1}");
                } else {
                    let _ = write!(d, " H{px:.1} V{py:.1}");
                }
            }
            let _ = write!(
                f.svg,
                "<path d=\"{d}\" fill=\"none\" stroke=\"{STUDENT}\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>"
            );
        }
    }
    for p in &ok {
        let (px, py) = (xs.f(p.x), ys.f(p.y));
        let (fill, stroke) = if p.highlight {
            (STUDENT, STUDENT)
        } else {
            ("#ffffff", "#9ca3af")
        };
        let name = p
            .label
            .rsplit(['/', '\\'])
            .find(|s| !s.is_empty())
            .unwrap_or(&p.label);
        let _ = write!(
            f.svg,
            "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"5\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"2\">\
             <title>{}</title></circle>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{INK}\">{}</text>",
            esc(&format!("{}: {y_label} {}, {x_label} {}", p.label, label(p.y), label(p.x))),
            px + 8.0,
            py - 6.0,
            esc(&short(name, 24))
        );
    }
    f.finish()
}

/// Line chart over a numeric x, series on a left axis or a right axis, with point markers and
/// labelled vertical flags.
pub(crate) fn lines(
    title: &str,
    x_label: &str,
    xs_data: &[f64],
    series: &[Line<'_>],
    flags: &[(f64, String)],
) -> String {
    let has_right = series.iter().any(|s| s.right_axis);
    let mut f = Frame::new(title, if has_right { 56.0 } else { 16.0 });
    let Some((x0, x1)) = range(xs_data.iter().copied()) else {
        return f.no_data();
    };
    let side = |right: bool| {
        range(
            series
                .iter()
                .filter(|s| s.right_axis == right)
                .flat_map(|s| s.ys.iter().copied()),
        )
    };
    let Some((l0, l1)) = side(false).or_else(|| side(true)) else {
        return f.no_data();
    };
    let items: Vec<(&str, &str)> = series.iter().map(|s| (s.name, s.color)).collect();
    f.legend(&items);
    let xs = f.x(x0, x1);
    let left = f.y(l0, l1, false);
    let right = side(true).map(|(r0, r1)| (f.y(r0, r1, false), ticks(r0, r1, 5)));
    let left_name = series.iter().find(|s| !s.right_axis).map_or("", |s| s.name);
    let right_name = series
        .iter()
        .filter(|s| s.right_axis)
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ");
    let xt = ticks(x0, x1, 6);
    let lt = ticks(l0, l1, 5);
    match &right {
        Some((rs, rt)) if has_right => f.axes(
            (&xs, &xt, x_label),
            (&left, &lt, left_name),
            Some((rs, rt, &right_name)),
        ),
        _ => f.axes((&xs, &xt, x_label), (&left, &lt, left_name), None),
    }
    for (x, name) in flags {
        if !x.is_finite() {
            continue;
        }
        let px = xs.f(*x);
        let _ = write!(
            f.svg,
            "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ef4444\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#b91c1c\">{}</text>",
            f.top,
            f.bottom,
            px + 3.0,
            f.top + 10.0,
            esc(name)
        );
    }
    for s in series {
        let scale = match (&right, s.right_axis) {
            (Some((rs, _)), true) => *rs,
            _ => left,
        };
        let pts: Vec<(f64, f64)> = xs_data
            .iter()
            .zip(s.ys)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(&x, &y)| (xs.f(x), scale.f(y)))
            .collect();
        if pts.len() > 1 {
            let d: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                f.svg,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
                d.join(" "),
                s.color
            );
        }
        for (x, y) in pts {
            let _ = write!(
                f.svg,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{}\"/>",
                s.color
            );
        }
    }
    f.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every opened tag is closed (or self-closed), in order.
    fn balanced(svg: &str) -> bool {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find('<') {
            rest = &rest[i + 1..];
            let end = match rest.find('>') {
                Some(e) => e,
                None => return false,
            };
            let tag = &rest[..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop().as_deref() != Some(name.trim()) {
                    return false;
                }
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().unwrap_or("");
                stack.push(name.to_owned());
            }
        }
        stack.is_empty()
    }

    fn check(svg: &str, needles: &[&str]) {
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(balanced(svg), "unbalanced: {svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        for n in needles {
            assert!(svg.contains(n), "missing {n}");
        }
    }

    fn bins() -> Vec<Bin> {
        vec![
            Bin {
                lower: 0.0,
                upper: 0.5,
                count: 0,
                accuracy: None,
                confidence: None,
            },
            Bin {
                lower: 0.5,
                upper: 1.0,
                count: 7,
                accuracy: Some(1.0),
                confidence: Some(0.8),
            },
        ]
    }

    #[test]
    fn reliability_draws_non_empty_bins_up_to_their_accuracy() {
        let svg = reliability("Teacher <script>", &bins(), TEACHER, 0.2);
        check(
            &svg,
            &[
                "Teacher &lt;script&gt; (ECE 0.2000)",
                "confidence",
                "accuracy",
                "stroke-dasharray",
            ],
        );
        assert!(!svg.contains("<script>"));
        // One accuracy bar (the empty bin draws none), reaching the top of the plot (y = 44).
        assert_eq!(svg.matches("fill-opacity=\"0.85\"").count(), 1);
        assert!(svg.contains("y=\"44.0\" width="), "{svg}");
    }

    #[test]
    fn histograms_with_legend_markers_and_no_data() {
        let edges = [0.0, 0.5, 1.0];
        let svg = histogram_with_markers(
            "KL",
            "nats",
            &edges,
            &[("teacher", TEACHER, &[3, 1]), ("student", STUDENT, &[0, 4])],
            true,
            &[("p50", 0.4), ("bad", f64::NAN)],
        );
        check(&svg, &["teacher", "student", "p50 0.4", "nats"]);
        let empty = histogram("KL", "nats", &edges, &[("x", STUDENT, &[0, 0])], false);
        check(&empty, &["no data"]);
    }

    #[test]
    fn heatmap_names_and_counts() {
        let labels = vec!["negative".to_owned(), "a-very-long-class-name".to_owned()];
        let svg = heatmap(
            "Student confusion",
            &labels,
            &[vec![5, 1], vec![0, 4]],
            STUDENT,
        );
        check(
            &svg,
            &[
                "predicted",
                "true",
                "negative",
                "a-very-long-class-name",
                ">5<",
                "…",
            ],
        );
        check(&heatmap("none", &[], &[], STUDENT), &["no data"]);
    }

    #[test]
    fn scatter_handles_one_and_identical_points() {
        let p = |x: f64, y: f64, h: bool| Point {
            x,
            y,
            label: format!("runs/s{x}"),
            highlight: h,
        };
        let svg = scatter(
            "Students",
            "KL",
            "accuracy",
            &[p(0.1, 0.9, true), p(0.2, 0.95, true), p(0.3, 0.8, false)],
            true,
        );
        check(&svg, &["<path", "s0.1", "KL", "accuracy"]);
        check(
            &scatter("one", "KL", "acc", &[p(0.1, 0.9, true)], true),
            &["s0.1"],
        );
        check(
            &scatter(
                "same",
                "KL",
                "acc",
                &[p(0.1, 0.9, true), p(0.1, 0.9, true)],
                true,
            ),
            &["circle"],
        );
        check(
            &scatter("nan", "KL", "acc", &[p(f64::NAN, 0.9, true)], true),
            &["no data"],
        );
    }

    #[test]
    fn lines_skip_nan_and_draw_two_axes_and_flags() {
        let xs = [100.0, 200.0, 300.0];
        let svg = lines(
            "Training",
            "step",
            &xs,
            &[
                Line {
                    name: "accuracy",
                    color: STUDENT,
                    ys: &[0.8, f64::NAN, 0.9],
                    right_axis: false,
                },
                Line {
                    name: "KL",
                    color: "#7c3aed",
                    ys: &[0.3, 0.2, 0.25],
                    right_axis: true,
                },
            ],
            &[(300.0, "KL rising".to_owned())],
        );
        check(
            &svg,
            &["step", "accuracy", "KL rising", "polyline", "rotate(90)"],
        );
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(
            ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(label(0.6000000000000001), "0.6");
        assert_eq!(label(12_600.0), "13k");
        assert_eq!(label(0.0001), "1e-4");
        assert_eq!(log_ticks(250.0), vec![0.0, 1.0, 10.0, 100.0]);
    }
}
