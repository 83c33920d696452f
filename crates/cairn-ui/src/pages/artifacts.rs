//! A run's artifacts: folder listings, previews of text, JSON, YAML, MLmodel, CSV
//! (first rows) and images, and the raw file.

use cairn_artifacts::FileInfo;
use cairn_service::artifacts::{join, proxied_root};
use cairn_service::Services;
use futures::StreamExt;
use maud::{html, Markup};

use crate::error::{UiError, UiResult};
use crate::format;
use crate::layout;
use crate::query::{to_query, Params};
use crate::reply::{Body, Reply};

/// The most of a file read for a preview.
const PREVIEW_BYTES: usize = 256 * 1024;
/// Rows of a CSV preview.
const CSV_ROWS: usize = 50;

/// Where a run's artifacts are inside the server's artifact store, when its URI
/// points there (`mlflow-artifacts:/1/<run>/artifacts`, with or without a host).
pub fn run_root(uri: &str) -> Option<String> {
    proxied_root(uri).ok()
}

/// What a preview shows, by the file's name.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Image(&'static str),
    Csv(u8),
    Json,
    Text,
    Binary,
}

fn kind(name: &str) -> Kind {
    let base = name.rsplit('/').next().unwrap_or(name);
    if base == "MLmodel" {
        return Kind::Text;
    }
    let ext = base.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => Kind::Image("image/png"),
        Some("jpg" | "jpeg") => Kind::Image("image/jpeg"),
        Some("gif") => Kind::Image("image/gif"),
        Some("webp") => Kind::Image("image/webp"),
        Some("svg") => Kind::Image("image/svg+xml"),
        Some("csv") => Kind::Csv(b','),
        Some("tsv") => Kind::Csv(b'\t'),
        Some("json") => Kind::Json,
        Some(
            "txt" | "yaml" | "yml" | "md" | "log" | "py" | "toml" | "ini" | "cfg" | "html" | "xml"
            | "sh" | "jsonl" | "r" | "sql",
        ) => Kind::Text,
        None => Kind::Text,
        Some(_) => Kind::Binary,
    }
}

/// The file and folder links of one folder (`dir` relative to the run's root).
pub fn listing(run_id: &str, dir: &str, files: &[FileInfo]) -> Markup {
    let join = |name: &str| {
        if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        }
    };
    html! {
        ul.files {
            @for f in files {
                @let path = join(&f.path);
                li {
                    @if f.is_dir {
                        a.dir href={ "/runs/" (run_id) "/artifacts" (to_query(&[("path", &path)])) } { (f.path) "/" }
                    } @else {
                        a.file href={ "/runs/" (run_id) "/artifacts" (to_query(&[("path", dir), ("file", &path)])) } { (f.path) }
                        span.muted { " " (f.file_size.map(format::bytes).unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

pub async fn browse(state: &Services, id: String, q: Params) -> UiResult<Reply> {
    let run = state.tracking.get_run(&id).await?;
    let root = run_root(&run.info.artifact_uri).ok_or_else(|| {
        UiError::BadInput(format!(
            "the run's artifacts are at {}, outside the server's artifact store",
            run.info.artifact_uri
        ))
    })?;
    let dir = q.get("path").unwrap_or("").trim_matches('/').to_string();
    let files = state.artifacts.list(Some(&join(&root, &dir))).await?;
    let preview = match q.get("file") {
        Some(file) => Some((file.to_string(), preview(state, &id, &root, file).await?)),
        None => None,
    };
    let name = layout::run_name(&run.info).to_string();
    let mut trail = vec![
        ("Run".to_string(), Some(format!("/runs/{id}"))),
        (
            "artifacts".to_string(),
            Some(format!("/runs/{id}/artifacts")),
        ),
    ];
    let mut acc = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        acc = join(&acc, part);
        trail.push((
            part.to_string(),
            Some(format!(
                "/runs/{id}/artifacts{}",
                to_query(&[("path", &acc)])
            )),
        ));
    }
    let trail: Vec<(&str, Option<String>)> =
        trail.iter().map(|(l, h)| (l.as_str(), h.clone())).collect();
    let body = html! {
        (layout::crumbs(&trail))
        h1 { "Artifacts of " (name) }
        div.browser {
            nav.tree aria-label="Files" {
                @if files.is_empty() { p.empty { "Empty folder." } } @else { (listing(&id, &dir, &files)) }
            }
            section.preview aria-label="Preview" {
                @match &preview {
                    Some((file, markup)) => {
                        h2 { (file) }
                        p { a href={ "/runs/" (id) "/artifact" (to_query(&[("path", file)])) } download { "Download" } }
                        (markup)
                    }
                    None => p.empty { "Choose a file to preview it." },
                }
            }
        }
    };
    Ok(layout::page(&format!("Artifacts of {name}"), body))
}

/// The start of a file, at most [`PREVIEW_BYTES`], and whether there is more.
async fn head(state: &Services, path: &str) -> UiResult<(Vec<u8>, u64)> {
    let download = state.artifacts.download(path).await?;
    let size = download.size;
    let mut body = download.body;
    let mut buf = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| UiError::BadInput(format!("cannot read {path}: {e}")))?;
        buf.extend_from_slice(&chunk);
        if buf.len() >= PREVIEW_BYTES {
            buf.truncate(PREVIEW_BYTES);
            break;
        }
    }
    Ok((buf, size))
}

async fn preview(state: &Services, run_id: &str, root: &str, file: &str) -> UiResult<Markup> {
    let kind = kind(file);
    if let Kind::Image(_) = kind {
        return Ok(html! {
            img.artifact src={ "/runs/" (run_id) "/artifact" (to_query(&[("path", file)])) } alt=(file);
        });
    }
    let (bytes, size) = head(state, &join(root, file)).await?;
    let cut = size as usize > bytes.len();
    let note = html! {
        p.muted { (format::bytes(size)) @if cut { ", first " (format::bytes(bytes.len() as u64)) " shown" } }
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => Some(t),
        // A preview cut inside a character is still text.
        Err(e) if cut && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    let Some(text) = text.filter(|t| !t.contains('\0')) else {
        return Ok(html! { (note) p.empty { "A binary file: download it to open it." } });
    };
    let shown = match kind {
        Kind::Json if !cut => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => {
                html! { pre.code { (serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_string())) } }
            }
            Err(_) => html! { pre.code { (text) } },
        },
        Kind::Csv(sep) => csv_table(text, sep),
        Kind::Binary => html! { p.empty { "A binary file: download it to open it." } },
        _ => html! { pre.code { (text) } },
    };
    Ok(html! { (note) (shown) })
}

fn csv_table(text: &str, sep: u8) -> Markup {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .take(CSV_ROWS + 1)
        .filter_map(Result::ok)
        .map(|r| r.iter().map(str::to_string).collect())
        .collect();
    let Some((header, body)) = rows.split_first() else {
        return html! { p.empty { "Empty file." } };
    };
    html! {
        div.scroll {
            table.grid {
                thead { tr { @for h in header { th { (h) } } } }
                tbody { @for r in body { tr { @for c in r { td { (c) } } } } }
            }
        }
        p.muted { "First " (body.len()) " rows." }
    }
}

/// The file itself. Scripts in an uploaded SVG or HTML must not run on this origin:
/// the response is sandboxed and never sniffed.
pub async fn raw(state: &Services, id: String, q: Params) -> UiResult<Reply> {
    let run = state.tracking.get_run(&id).await?;
    let root = run_root(&run.info.artifact_uri).ok_or_else(|| {
        UiError::BadInput("the run's artifacts are outside the server's artifact store".into())
    })?;
    let file = q.require("path")?;
    let download = state.artifacts.download(&join(&root, file)).await?;
    let content_type = match kind(file) {
        Kind::Image(t) => t,
        Kind::Json => "application/json",
        Kind::Text | Kind::Csv(_) => "text/plain; charset=utf-8",
        Kind::Binary => "application/octet-stream",
    };
    Ok(Reply {
        status: 200,
        headers: vec![
            ("content-type", content_type.to_string()),
            ("content-length", download.size.to_string()),
            ("content-security-policy", "sandbox".to_string()),
            ("x-content-type-options", "nosniff".to_string()),
        ],
        body: Body::Stream(download.body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_and_kinds() {
        assert_eq!(
            run_root("mlflow-artifacts:/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            run_root("mlflow-artifacts://h:5000/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(run_root("s3://bucket/x"), None);
        assert_eq!(kind("model/MLmodel"), Kind::Text);
        assert_eq!(kind("plots/roc.SVG"), Kind::Image("image/svg+xml"));
        assert_eq!(kind("data.tsv"), Kind::Csv(b'\t'));
        assert_eq!(kind("model.safetensors"), Kind::Binary);
    }
}
