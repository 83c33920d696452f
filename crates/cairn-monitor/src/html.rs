//! The drift report as one HTML file: the verdict, a row per column (test, score,
//! threshold, drift) and each column's reference and current distributions drawn
//! over each other. Self-contained (inline SVG, no script), so CI can keep it as an
//! artifact.

use crate::drift::{Distribution, DriftReport};

/// Text made safe for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The overlaid bars of one column: reference in grey, current in blue, half-width
/// each so both stay visible. Inline SVG; the UI's drift table draws the same.
pub fn histogram(column: &str, d: &Distribution) -> String {
    let (w, h) = (480.0, 140.0);
    let n = d.labels.len().max(1) as f64;
    let top = d
        .reference
        .iter()
        .chain(&d.current)
        .copied()
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let slot = w / n;
    let mut bars = String::new();
    for (i, label) in d.labels.iter().enumerate() {
        for (k, (share, colour)) in [(d.reference[i], "#9aa5b1"), (d.current[i], "#2f6fde")]
            .into_iter()
            .enumerate()
        {
            let bh = share / top * (h - 20.0);
            let x = i as f64 * slot + k as f64 * slot / 2.0;
            bars.push_str(&format!(
                "<rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{bh:.2}\" fill=\"{colour}\">\
                 <title>{} {}: {:.4}</title></rect>",
                h - 20.0 - bh,
                (slot / 2.0 - 0.5).max(0.5),
                esc(label),
                if k == 0 { "reference" } else { "current" },
                share
            ));
        }
    }
    format!(
        "<svg class=\"hist\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"distributions of {}\">{bars}\
         <text x=\"0\" y=\"{}\" font-size=\"11\">{}</text>\
         <text x=\"{w}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>",
        esc(column),
        h - 5.0,
        esc(d.labels.first().map_or("", String::as_str)),
        h - 5.0,
        esc(d.labels.last().map_or("", String::as_str)),
    )
}

/// The whole report.
pub fn render(report: &DriftReport, reference: &str, current: &str) -> String {
    let mut rows = String::new();
    for c in &report.columns {
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\
             <tr><td colspan=\"6\">{}</td></tr>",
            if c.drift { "drift" } else { "stable" },
            esc(&c.column),
            serde_json::to_value(c.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            esc(&c.stattest),
            if c.score.is_finite() { format!("{:.6}", c.score) } else { "n/a".into() },
            c.threshold,
            if c.drift { "drift" } else { "no drift" },
            histogram(&c.column, &c.distribution),
        ));
    }
    let skipped: String = report
        .skipped
        .iter()
        .map(|(n, why)| format!("<li>{}: {}</li>", esc(n), esc(why)))
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Data drift: {cur}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}}\
         tr.drift td{{color:#b00020;font-weight:600}}.legend span{{margin-right:1em}}</style>\
         </head><body><h1>Data drift</h1>\
         <p>Reference <code>{refn}</code>, current <code>{cur}</code>.</p>\
         <p id=\"verdict\"><strong>{verdict}</strong>: {n} of {total} columns drifted \
         (share {share:.4}; the dataset drifts from {ds}).</p>\
         <p class=\"legend\"><span style=\"color:#9aa5b1\">&#9632; reference</span>\
         <span style=\"color:#2f6fde\">&#9632; current</span></p>\
         <table><thead><tr><th>column</th><th>type</th><th>test</th><th>score</th>\
         <th>threshold</th><th>verdict</th></tr></thead><tbody>{rows}</tbody></table>\
         {skip}</body></html>",
        refn = esc(reference),
        cur = esc(current),
        verdict = if report.dataset_drift {
            "Dataset drift"
        } else {
            "No dataset drift"
        },
        n = report.drifted_columns,
        total = report.columns.len(),
        share = report.share,
        ds = report.drift_share,
        skip = if skipped.is_empty() {
            String::new()
        } else {
            format!("<h2>Not checked</h2><ul>{skipped}</ul>")
        },
    )
}
