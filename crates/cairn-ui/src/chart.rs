//! SVG charts drawn on the server: metric curves (overlaid runs, or a mean line with
//! its min-max band per group), scatter plots and parallel coordinates.
//!
//! Hand-drawn rather than with plotters because the page needs what a static image
//! lacks: every series in its own `<g>` to toggle, the axis mapping in `data-*`
//! attributes for `app.js`'s hover read-out and drag-to-zoom, `<title>`s for values
//! without JavaScript, and links from points to their runs.

use std::fmt::Write;

use maud::{html, Markup, PreEscaped};

use crate::format;

const W: f64 = 760.0;
const H: f64 = 300.0;
const ML: f64 = 64.0;
const MR: f64 = 16.0;
const MT: f64 = 12.0;
const MB: f64 = 40.0;
/// Series this short get a marker on each point (one point draws no line).
const MARKED: usize = 30;

/// The colour of series `i`: ten distinct ones, then hues spread by the golden angle.
pub fn color(i: usize) -> String {
    const TEN: [&str; 10] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];
    match TEN.get(i) {
        Some(c) => (*c).to_string(),
        None => format!("hsl({:.0},65%,42%)", (i as f64 * 137.508) % 360.0),
    }
}

/// One curve: points by x, and optionally a band (x, low, high) drawn under it.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
}

/// A line chart of one metric.
pub struct LineChart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub x_label: &'a str,
    pub log_y: bool,
    /// Only this x range is drawn (zoom); `None` fits all points.
    pub x_range: Option<(f64, f64)>,
    pub series: Vec<Series>,
}

/// A linear map from data to pixels.
#[derive(Clone, Copy)]
struct Axis {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
}

impl Axis {
    fn new(d0: f64, d1: f64, p0: f64, p1: f64) -> Axis {
        // A flat domain (one value) gets some room so the point sits mid-axis.
        let (d0, d1) = if (d1 - d0).abs() < f64::EPSILON * d0.abs().max(1.0) {
            let pad = if d0 == 0.0 { 1.0 } else { d0.abs() * 0.1 };
            (d0 - pad, d1 + pad)
        } else {
            (d0, d1)
        };
        Axis { d0, d1, p0, p1 }
    }

    fn px(&self, v: f64) -> f64 {
        self.p0 + (v - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)
    }
}

/// About `n` round tick values covering `[lo, hi]`.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    let mut out = Vec::new();
    let mut v = first;
    while v <= hi + step * 1e-9 && out.len() < 50 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Rounds for the JSON the hover read-out uses: six significant digits are plenty
/// and keep a hundred-run page small.
fn round6(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let mag = 10f64.powi(5 - v.abs().log10().floor() as i32);
    (v * mag).round() / mag
}

/// JSON inside `<script>`: `</` must not close the element early.
fn script_json(v: &serde_json::Value) -> PreEscaped<String> {
    PreEscaped(v.to_string().replace("</", "<\\/"))
}

impl LineChart<'_> {
    pub fn render(&self) -> Markup {
        let ty = |y: f64| if self.log_y { y.log10() } else { y };
        let in_x = |x: f64| self.x_range.is_none_or(|(a, b)| x >= a && x <= b);
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .filter(|x| in_x(*x));
        let Some((x0, x1)) = self.x_range.or_else(|| extent(xs)) else {
            return html! { p.empty { "No values to chart for " (self.title) "." } };
        };
        let ys = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .filter(|p| in_x(p.0))
                .map(|p| p.1)
                .chain(s.band.iter().filter(|b| in_x(b.0)).flat_map(|b| [b.1, b.2]))
        });
        let ys = ys.filter(|y| !self.log_y || *y > 0.0).map(ty);
        let Some((y0, y1)) = extent(ys) else {
            return html! {
                p.empty { "No " @if self.log_y { "positive " } "values to chart for " (self.title) " in this range." }
            };
        };
        let pad = (y1 - y0) * 0.04;
        let xa = Axis::new(x0, x1, ML, W - MR);
        let ya = Axis::new(y0 - pad, y1 + pad, H - MB, MT);
        let point = |x: f64, y: f64| -> Option<(f64, f64)> {
            (in_x(x) && y.is_finite() && (!self.log_y || y > 0.0)).then(|| (xa.px(x), ya.px(ty(y))))
        };
        let mut paths = Vec::with_capacity(self.series.len());
        for s in &self.series {
            let mut d = String::new();
            let mut pen_down = false;
            for &(x, y) in &s.points {
                match point(x, y) {
                    Some((px, py)) => {
                        let _ = write!(d, "{}{px:.1} {py:.1}", if pen_down { "L" } else { "M" });
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            let mut band = String::new();
            let inside: Vec<_> = s
                .band
                .iter()
                .filter(|b| in_x(b.0) && b.1.is_finite() && b.2.is_finite())
                .filter(|b| !self.log_y || b.1 > 0.0)
                .collect();
            for (i, b) in inside.iter().enumerate() {
                let _ = write!(
                    band,
                    "{}{:.1} {:.1}",
                    if i == 0 { "M" } else { "L" },
                    xa.px(b.0),
                    ya.px(ty(b.2))
                );
            }
            for b in inside.iter().rev() {
                let _ = write!(band, "L{:.1} {:.1}", xa.px(b.0), ya.px(ty(b.1)));
            }
            if !band.is_empty() {
                band.push('Z');
            }
            paths.push((d, band));
        }
        let data = serde_json::json!({
            "log": self.log_y,
            "series": self.series.iter().map(|s| serde_json::json!({
                "label": s.label,
                "pts": s.points.iter().filter(|p| in_x(p.0))
                    .map(|p| [round6(p.0), round6(p.1)]).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        let yticks = ticks(ya.d0, ya.d1, 5);
        let xticks = ticks(x0, x1, 6);
        let label_y = |v: f64| {
            if self.log_y {
                format::number(10f64.powf(v))
            } else {
                format::number(v)
            }
        };
        html! {
            figure.chart id=(self.id) {
                figcaption { (self.title) @if self.log_y { span.muted { " (log scale)" } } }
                svg.plot viewBox={ "0 0 " (W) " " (H) } role="img"
                    aria-label={ (self.title) ": " (self.series.len()) " series against " (self.x_label) }
                    data-x0=(xa.d0) data-x1=(xa.d1) data-px0=(xa.p0) data-px1=(xa.p1)
                    data-y0=(ya.d0) data-y1=(ya.d1) data-py0=(ya.p0) data-py1=(ya.p1) {
                    @for t in &yticks {
                        line.grid x1=(ML) x2=(W - MR) y1=(format!("{:.1}", ya.px(*t))) y2=(format!("{:.1}", ya.px(*t))) {}
                        text.tick x=(ML - 6.0) y=(format!("{:.1}", ya.px(*t) + 4.0)) text-anchor="end" { (label_y(*t)) }
                    }
                    @for t in &xticks {
                        line.grid x1=(format!("{:.1}", xa.px(*t))) x2=(format!("{:.1}", xa.px(*t))) y1=(MT) y2=(H - MB) {}
                        text.tick x=(format!("{:.1}", xa.px(*t))) y=(H - MB + 16.0) text-anchor="middle" { (format::number(*t)) }
                    }
                    line.axis x1=(ML) x2=(W - MR) y1=(H - MB) y2=(H - MB) {}
                    line.axis x1=(ML) x2=(ML) y1=(MT) y2=(H - MB) {}
                    text.axis-label x=((ML + W - MR) / 2.0) y=(H - 6.0) text-anchor="middle" { (self.x_label) }
                    @for (i, (s, (d, band))) in self.series.iter().zip(&paths).enumerate() {
                        g.series data-i=(i) {
                            title { (s.label) }
                            @if !band.is_empty() {
                                path.band d=(band) fill=(color(i)) {}
                            }
                            path.line d=(d) stroke=(color(i)) {}
                            @if s.points.len() <= MARKED {
                                @for (x, y) in s.points.iter().filter_map(|p| point(p.0, p.1)) {
                                    circle.mark cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="3" fill=(color(i)) {}
                                }
                            }
                        }
                    }
                    line.cursor x1="0" x2="0" y1=(MT) y2=(H - MB) {}
                }
                @if self.series.len() > 1 {
                    div.legend role="group" aria-label={ "Series of " (self.title) } {
                        @for (i, s) in self.series.iter().enumerate() {
                            button type="button" data-series=(i) aria-pressed="true" {
                                span.swatch style={ "background:" (color(i)) } {}
                                (s.label)
                            }
                        }
                    }
                }
                div.tip hidden {}
                script type="application/json" class="chart-data" { (script_json(&data)) }
            }
        }
    }
}

/// A TensorBoard-style exponential moving average with its start-up bias removed;
/// `weight` 0 leaves the values as they are.
pub fn smooth(points: &[(f64, f64)], weight: f64) -> Vec<(f64, f64)> {
    if weight <= 0.0 {
        return points.to_vec();
    }
    let mut last = 0.0;
    let mut n = 0;
    points
        .iter()
        .map(|&(x, y)| {
            if !y.is_finite() {
                return (x, y);
            }
            last = last * weight + (1.0 - weight) * y;
            n += 1;
            (x, last / (1.0 - weight.powi(n)))
        })
        .collect()
}

/// A value on a scatter or parallel-coordinates axis.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Num(f64),
    Cat(String),
}

impl Value {
    /// A number when the text reads as one, else a category.
    pub fn parse(s: &str) -> Value {
        match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Value::Num(v),
            _ => Value::Cat(s.to_string()),
        }
    }

    fn text(&self) -> String {
        match self {
            Value::Num(v) => format::number(*v),
            Value::Cat(s) => s.clone(),
        }
    }
}

/// Places values on an axis: numbers linearly, categories evenly in sorted order.
struct Scale {
    num: Option<(f64, f64)>,
    cats: Vec<String>,
}

impl Scale {
    fn of<'v>(values: impl Iterator<Item = &'v Value>) -> Scale {
        let values: Vec<&Value> = values.collect();
        if values.iter().all(|v| matches!(v, Value::Num(_))) {
            let e = extent(values.iter().filter_map(|v| match v {
                Value::Num(x) => Some(*x),
                Value::Cat(_) => None,
            }));
            return Scale {
                num: e,
                cats: Vec::new(),
            };
        }
        let mut cats: Vec<String> = values.iter().map(|v| v.text()).collect();
        cats.sort();
        cats.dedup();
        Scale { num: None, cats }
    }

    /// 0..1 along the axis.
    fn unit(&self, v: &Value) -> Option<f64> {
        match (self.num, v) {
            (Some((lo, hi)), Value::Num(x)) => {
                Some(if hi > lo { (x - lo) / (hi - lo) } else { 0.5 })
            }
            _ => {
                let i = self.cats.iter().position(|c| *c == v.text())?;
                Some(if self.cats.len() > 1 {
                    i as f64 / (self.cats.len() - 1) as f64
                } else {
                    0.5
                })
            }
        }
    }

    fn labels(&self) -> Vec<(f64, String)> {
        match self.num {
            Some((lo, hi)) if hi > lo => ticks(lo, hi, 4)
                .into_iter()
                .map(|t| ((t - lo) / (hi - lo), format::number(t)))
                .collect(),
            Some((lo, _)) => vec![(0.5, format::number(lo))],
            None => {
                let n = self.cats.len();
                // Many categories would overprint: label a dozen of them.
                let every = n.div_ceil(12).max(1);
                self.cats
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % every == 0)
                    .map(|(i, c)| {
                        let u = if n > 1 {
                            i as f64 / (n - 1) as f64
                        } else {
                            0.5
                        };
                        (u, c.clone())
                    })
                    .collect()
            }
        }
    }
}

/// One item of a scatter or parallel-coordinates chart: a run.
pub struct Item {
    pub label: String,
    pub href: String,
    pub values: Vec<Option<Value>>,
}

/// A scatter of axis 0 (x) against axis 1 (y).
pub fn scatter(id: &str, x_label: &str, y_label: &str, items: &[Item]) -> Markup {
    let pts: Vec<(&Item, &Value, &Value)> = items
        .iter()
        .filter_map(|it| match (it.values.first(), it.values.get(1)) {
            (Some(Some(x)), Some(Some(y))) => Some((it, x, y)),
            _ => None,
        })
        .collect();
    if pts.is_empty() {
        return html! { p.empty { "No run has both " (x_label) " and " (y_label) "." } };
    }
    let sx = Scale::of(pts.iter().map(|p| p.1));
    let sy = Scale::of(pts.iter().map(|p| p.2));
    let (px0, px1, py0, py1) = (ML + 10.0, W - MR - 10.0, H - MB - 10.0, MT + 10.0);
    let at = |u: f64, a: f64, b: f64| a + u * (b - a);
    html! {
        figure.chart id=(id) {
            figcaption { (y_label) " against " (x_label) }
            svg.plot viewBox={ "0 0 " (W) " " (H) } role="img" aria-label={ "Scatter of " (y_label) " against " (x_label) } {
                @for (u, l) in sy.labels() {
                    line.grid x1=(ML) x2=(W - MR) y1=(format!("{:.1}", at(u, py0, py1))) y2=(format!("{:.1}", at(u, py0, py1))) {}
                    text.tick x=(ML - 6.0) y=(format!("{:.1}", at(u, py0, py1) + 4.0)) text-anchor="end" { (l) }
                }
                @for (u, l) in sx.labels() {
                    text.tick x=(format!("{:.1}", at(u, px0, px1))) y=(H - MB + 16.0) text-anchor="middle" { (l) }
                }
                line.axis x1=(ML) x2=(W - MR) y1=(H - MB) y2=(H - MB) {}
                line.axis x1=(ML) x2=(ML) y1=(MT) y2=(H - MB) {}
                text.axis-label x=((ML + W - MR) / 2.0) y=(H - 6.0) text-anchor="middle" { (x_label) }
                @for (it, x, y) in &pts {
                    @if let (Some(ux), Some(uy)) = (sx.unit(x), sy.unit(y)) {
                        a href=(it.href) {
                            circle.dot cx=(format!("{:.1}", at(ux, px0, px1))) cy=(format!("{:.1}", at(uy, py0, py1))) r="4" {
                                title { (it.label) ": " (x_label) " = " (x.text()) ", " (y_label) " = " (y.text()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Parallel coordinates: one vertical axis per name, one line per item, coloured by
/// its value on the last axis (the metric), blue low to red high.
pub fn parallel(id: &str, axes: &[String], items: &[Item]) -> Markup {
    if axes.len() < 2 || items.is_empty() {
        return html! { p.empty { "Parallel coordinates need at least one param that differs and a metric." } };
    }
    let scales: Vec<Scale> = (0..axes.len())
        .map(|a| Scale::of(items.iter().filter_map(|it| it.values.get(a)?.as_ref())))
        .collect();
    let (top, bottom) = (MT + 18.0, H - MB + 8.0);
    let left = ML;
    let step = (W - MR - ML) / (axes.len() - 1) as f64;
    let ax_x = |a: usize| left + step * a as f64;
    let y_of = |u: f64| bottom - u * (bottom - top);
    let last = axes.len() - 1;
    let value = |it: &Item, a: usize| -> Option<f64> {
        it.values.get(a)?.as_ref().and_then(|v| scales[a].unit(v))
    };
    let lines: Vec<(String, String)> = items
        .iter()
        .map(|it| {
            let mut d = String::new();
            let mut down = false;
            for a in 0..axes.len() {
                match value(it, a) {
                    Some(u) => {
                        let pen = if down { "L" } else { "M" };
                        let _ = write!(d, "{pen}{:.1} {:.1}", ax_x(a), y_of(u));
                        down = true;
                    }
                    None => down = false,
                }
            }
            let stroke = match value(it, last) {
                Some(u) => format!("hsl({:.0},70%,45%)", 240.0 - 240.0 * u),
                None => "#999".into(),
            };
            (d, stroke)
        })
        .collect();
    html! {
        figure.chart id=(id) {
            figcaption { "Params against " (axes[last]) }
            svg.plot viewBox={ "0 0 " (W) " " (H) } role="img" aria-label={ "Parallel coordinates of " (axes.len() - 1) " params and " (axes[last]) } {
                @for (it, (d, stroke)) in items.iter().zip(&lines) {
                    a href=(it.href) {
                        path.pline d=(d) stroke=(stroke) {
                            title { (it.label) }
                        }
                    }
                }
                @for (a, name) in axes.iter().enumerate() {
                    line.axis x1=(ax_x(a)) x2=(ax_x(a)) y1=(top) y2=(bottom) {}
                    text.axis-label x=(ax_x(a)) y=(MT + 6.0) text-anchor=(if a == 0 { "start" } else if a == last { "end" } else { "middle" }) { (name) }
                    @for (u, l) in scales[a].labels() {
                        text.tick x=(ax_x(a) + 4.0) y=(format!("{:.1}", y_of(u) + 4.0)) { (l) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = ticks(0.0, 1.0, 5);
        assert_eq!(t.len(), 6, "{t:?}");
        assert!((t[5] - 1.0).abs() < 1e-12 && t[0] == 0.0, "{t:?}");
        assert_eq!(ticks(3.0, 997.0, 6), vec![200.0, 400.0, 600.0, 800.0]);
    }

    #[test]
    fn smoothing_is_debiased() {
        let s = smooth(&[(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)], 0.9);
        assert!(s.iter().all(|p| (p.1 - 1.0).abs() < 1e-12), "{s:?}");
        assert_eq!(smooth(&[(0.0, 3.0)], 0.0), vec![(0.0, 3.0)]);
    }

    #[test]
    fn charts_carry_series_and_escape_labels() {
        let chart = LineChart {
            id: "c",
            title: "loss",
            x_label: "step",
            log_y: true,
            x_range: None,
            series: vec![
                Series {
                    label: "</script><b>".into(),
                    points: vec![(0.0, 1.0), (1.0, 0.1), (2.0, -1.0)],
                    band: vec![],
                },
                Series {
                    label: "b".into(),
                    points: vec![(0.0, 2.0)],
                    band: vec![],
                },
            ],
        }
        .render()
        .into_string();
        assert_eq!(chart.matches("class=\"series\"").count(), 2);
        assert!(!chart.contains("</script><b>"), "labels are escaped");
        assert!(chart.contains("(log scale)"));
    }
}
