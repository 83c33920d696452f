//! Evaluation plots: the confusion matrix, ROC and precision-recall curves
//! (one-vs-rest), the reliability diagram and per-class F1. Each is drawn once, as
//! SVG with plotters (text stays text); the PNG is that SVG rasterised by resvg
//! with a font built into the binary, so it looks the same on a machine without
//! fonts.

use std::sync::{Arc, OnceLock};

use plotters::prelude::*;

use crate::metrics::{Curve, Report};
use crate::{MlError, Result};

/// `(file stem, SVG)` for each plot of `report`.
pub fn evaluation_plots(report: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |stem: &str, svg: Option<String>| {
        if let Some(svg) = svg {
            out.push((stem.to_string(), svg));
        }
    };
    add("confusion_matrix", confusion_matrix(report));
    if let Some(curves) = &report.curves {
        add(
            "roc_curve",
            curve_chart(
                "ROC (one-vs-rest)",
                "false positive rate",
                "true positive rate",
                &curves.roc,
                true,
            ),
        );
        add(
            "pr_curve",
            curve_chart(
                "precision-recall (one-vs-rest)",
                "recall",
                "precision",
                &curves.pr,
                false,
            ),
        );
        add("reliability_diagram", reliability_diagram(report));
    }
    add("per_class_f1", per_class_f1(report));
    out
}

/// The family every plot names; [`to_png`] maps it to the built-in font.
const FONT: &str = "sans-serif";

/// Rasterises an SVG drawn by this module to PNG, at twice its size for sharp
/// text.
pub fn to_png(svg: &str) -> Result<Vec<u8>> {
    let options = resvg::usvg::Options {
        fontdb: font_db(),
        font_family: "Ubuntu".to_string(),
        ..Default::default()
    };
    let tree = resvg::usvg::Tree::from_str(svg, &options)
        .map_err(|e| MlError::Config(format!("plot SVG does not parse: {e}")))?;
    let scale = 2.0;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .ok_or_else(|| MlError::Config("plot has no area to rasterise".to_string()))?;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| MlError::Config("plot has no area to rasterise".to_string()))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| MlError::Config(format!("PNG encoding: {e}")))
}

/// One font database for the process: Ubuntu Light (from egui's font crate) as
/// every generic family.
fn font_db() -> Arc<resvg::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_font_data(epaint_default_fonts::UBUNTU_LIGHT.to_vec());
        db.set_sans_serif_family("Ubuntu");
        db.set_serif_family("Ubuntu");
        db.set_monospace_family("Ubuntu");
        Arc::new(db)
    })
    .clone()
}

/// Line colours, in order; the first (the micro average) is drawn thicker.
const PALETTE: [RGBColor; 11] = [
    RGBColor(0, 0, 0),
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Curves on the unit square with their areas in the legend; `diagonal` adds the
/// chance line (ROC).
fn curve_chart(title: &str, x: &str, y: &str, curves: &[Curve], diagonal: bool) -> Option<String> {
    if curves.is_empty() {
        return None;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 480)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..1.0f64, 0.0..1.02f64)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc(x)
            .y_desc(y)
            .label_style((FONT, 12))
            .draw()
            .ok()?;
        if diagonal {
            chart
                .draw_series(LineSeries::new(
                    [(0.0, 0.0), (1.0, 1.0)],
                    RGBColor(180, 180, 180).stroke_width(1),
                ))
                .ok()?;
        }
        for (i, c) in curves.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let width = if i == 0 { 3 } else { 1 };
            chart
                .draw_series(LineSeries::new(
                    c.points.iter().copied(),
                    color.stroke_width(width),
                ))
                .ok()?
                .label(format!("{} ({:.3})", c.name, c.area))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(width))
                });
        }
        chart
            .configure_series_labels()
            .position(if diagonal {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::LowerLeft
            })
            .label_font((FONT, 11))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// Accuracy against mean confidence per confidence bin, bars shaded by how many
/// rows fall in them, with the diagonal of perfect calibration.
fn reliability_diagram(report: &Report) -> Option<String> {
    let bins = &report.curves.as_ref()?.reliability;
    let total: u64 = bins.iter().map(|b| b.count).sum();
    if total == 0 {
        return None;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 480)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let caption = match report.ece {
            Some(ece) => format!("reliability diagram (ECE {ece:.4})"),
            None => "reliability diagram".to_string(),
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..1.0f64, 0.0..1.02f64)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("confidence (top label)")
            .y_desc("accuracy")
            .label_style((FONT, 12))
            .draw()
            .ok()?;
        let max = bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
        chart
            .draw_series(
                bins.iter()
                    .filter(|b| b.count > 0 && b.accuracy > 0.0)
                    .map(|b| {
                        // More rows, darker bar: a tall bar over three rows says little.
                        let weight = 0.25 + 0.75 * (b.count as f64 / max).sqrt();
                        Rectangle::new(
                            [(b.lower, 0.0), (b.upper, b.accuracy)],
                            RGBColor(31, 119, 180).mix(weight).filled(),
                        )
                    }),
            )
            .ok()?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                RGBColor(214, 39, 40).stroke_width(2),
            ))
            .ok()?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RGBColor(214, 39, 40)));
        chart
            .draw_series(
                bins.iter()
                    .filter(|b| b.count > 0)
                    .map(|b| Circle::new((b.mean_confidence, b.accuracy), 3, BLACK.filled())),
            )
            .ok()?
            .label("mean confidence, accuracy")
            .legend(|(x, y)| Circle::new((x + 8, y), 3, BLACK.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 11))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

fn confusion_matrix(report: &Report) -> Option<String> {
    let n = report.labels.len();
    let cell = if n > 40 { 6 } else { 24 };
    let size = (n as u32 * cell + 220).max(400);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size, size)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption("confusion matrix (row-normalised)", (FONT, 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(if n > 40 { 40 } else { 160 })
            .build_cartesian_2d(0..n as i32, 0..n as i32)
            .ok()?;
        let labels = report.labels.clone();
        let label_at = move |v: &i32| {
            labels
                .get(n.saturating_sub(1).saturating_sub(*v as usize))
                .cloned()
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted")
            .y_desc("true")
            .y_labels(n.min(40))
            .y_label_formatter(&label_at)
            .x_labels(n.min(40))
            .draw()
            .ok()?;
        let cells = report.confusion.iter().enumerate().flat_map(|(t, row)| {
            let total: u64 = row.iter().sum::<u64>().max(1);
            row.iter().enumerate().map(move |(p, &c)| {
                let share = c as f64 / total as f64;
                let shade = (255.0 * (1.0 - share)) as u8;
                let y = (n - 1 - t) as i32;
                Rectangle::new(
                    [(p as i32, y), (p as i32 + 1, y + 1)],
                    RGBColor(shade, shade, 255).filled(),
                )
            })
        });
        chart.draw_series(cells).ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

fn per_class_f1(report: &Report) -> Option<String> {
    let n = report.per_class.len();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, ((n as u32 * 8 + 200).max(500), 360))
            .into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption("F1 per class", (FONT, 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0..n as i32, 0.0..1.0f64)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("class (report order)")
            .y_desc("F1")
            .draw()
            .ok()?;
        chart
            // A zero-height bar is no bar (and an invalid SVG rect).
            .draw_series(
                report
                    .per_class
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.f1 > 0.0)
                    .map(|(i, c)| {
                        Rectangle::new(
                            [(i as i32, 0.0), (i as i32 + 1, c.f1)],
                            BLUE.mix(0.6).filled(),
                        )
                    }),
            )
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::evaluate;

    fn report() -> Report {
        let labels: Vec<String> = ["cat", "dog", "bird"].map(String::from).to_vec();
        let y_true = [0, 1, 2, 0, 1, 2, 0, 1];
        let proba: Vec<Vec<f32>> = vec![
            vec![0.8, 0.1, 0.1],
            vec![0.2, 0.7, 0.1],
            vec![0.3, 0.3, 0.4],
            vec![0.4, 0.5, 0.1],
            vec![0.1, 0.8, 0.1],
            vec![0.1, 0.2, 0.7],
            vec![0.6, 0.2, 0.2],
            vec![0.5, 0.4, 0.1],
        ];
        let y_pred: Vec<usize> = proba.iter().map(|p| crate::linear::argmax(p)).collect();
        evaluate(&labels, &y_true, &y_pred, Some(&proba))
    }

    #[test]
    fn every_plot_is_drawn_with_its_curves_and_legend() {
        let plots = evaluation_plots(&report());
        let stems: Vec<&str> = plots.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            stems,
            [
                "confusion_matrix",
                "roc_curve",
                "pr_curve",
                "reliability_diagram",
                "per_class_f1"
            ]
        );
        let roc = &plots[1].1;
        // The micro average and the three classes, each named with its area.
        for name in ["micro average (", "cat (", "dog (", "bird ("] {
            assert!(roc.contains(name), "{name} missing from the ROC legend");
        }
        assert!(
            plots[3].1.contains("ECE"),
            "reliability caption names the ECE"
        );
    }

    #[test]
    fn png_is_the_svg_rasterised_at_twice_its_size_with_text() {
        let (_, svg) = &evaluation_plots(&report())[1];
        let png = to_png(svg).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, at bytes 16..24.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (1120, 960));
        // The same chart without its text rasterises to fewer dark pixels: the
        // built-in font really drew the labels.
        let no_text = svg
            .split("<text")
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part
                } else {
                    part.split_once("</text>").map_or("", |(_, rest)| rest)
                }
            })
            .collect::<String>();
        let dark = |png: &[u8]| {
            let img = resvg::tiny_skia::Pixmap::decode_png(png).unwrap();
            img.pixels()
                .iter()
                .filter(|p| p.red() < 100 && p.green() < 100)
                .count()
        };
        assert!(dark(&png) > dark(&to_png(&no_text).unwrap()) + 500);
    }

    #[test]
    fn a_bad_svg_is_an_error_not_a_panic() {
        assert!(to_png("<svg").is_err());
    }
}
