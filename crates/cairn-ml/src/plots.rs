//! Evaluation plots as SVG (plotters' SVG backend: text stays text, no font files
//! needed): the confusion matrix and per-class F1.

use plotters::prelude::*;

use crate::metrics::Report;

/// `(file stem, SVG)` for each plot of `report`.
pub fn evaluation_plots(report: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(svg) = confusion_matrix(report) {
        out.push(("confusion_matrix".to_string(), svg));
    }
    if let Some(svg) = per_class_f1(report) {
        out.push(("per_class_f1".to_string(), svg));
    }
    out
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
            .caption("confusion matrix (row-normalised)", ("sans-serif", 18))
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
            .caption("F1 per class", ("sans-serif", 18))
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
            .draw_series(report.per_class.iter().enumerate().map(|(i, c)| {
                Rectangle::new(
                    [(i as i32, 0.0), (i as i32 + 1, c.f1)],
                    BLUE.mix(0.6).filled(),
                )
            }))
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}
