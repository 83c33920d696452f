//! A run's artifacts: folder listings, previews of text, JSON, YAML, MLmodel, CSV
//! (first rows) and images, and the raw file.

use cairn_artifacts::FileInfo;
use cairn_core::ids::RunId;
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
pub const PREVIEW_BYTES: usize = 256 * 1024;
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

/// What the artifact browser shows: one folder of a run's artifacts and, when one
/// is chosen, the start of a file.
#[derive(Debug, Clone)]
pub struct ArtifactsPage {
    /// The run's id as the request spelled it: the page's links repeat it.
    pub run_id: String,
    /// The run's name, or its id when it has none.
    pub run_name: String,
    /// The folder shown, relative to the run's root, without outer slashes.
    pub dir: String,
    pub files: Vec<FileInfo>,
    /// The chosen file's path (relative to the run's root) and its preview.
    pub preview: Option<(String, Preview)>,
}

/// What was read of the file to preview.
#[derive(Debug, Clone)]
pub enum Preview {
    /// An image: the page shows the file itself, so nothing is read.
    Image,
    /// The start of any other file, at most [`PREVIEW_BYTES`], and its whole size.
    Head { bytes: Vec<u8>, size: u64 },
}

/// A run's artifact browser.
pub async fn browse(state: &Services, id: String, q: Params) -> UiResult<Reply> {
    let view = ArtifactsPage::load(state, id, q).await?;
    Ok(Reply::html(view.render().into_string()))
}

impl ArtifactsPage {
    /// The run, the folder the query names and the start of the file it names.
    pub async fn load(state: &Services, id: String, q: Params) -> UiResult<Self> {
        let id = RunId::parse(id)?;
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
            Some(file) => {
                let preview = match kind(file) {
                    Kind::Image(_) => Preview::Image,
                    _ => {
                        let (bytes, size) = head(state, &join(&root, file)).await?;
                        Preview::Head { bytes, size }
                    }
                };
                Some((file.to_string(), preview))
            }
            None => None,
        };
        Ok(ArtifactsPage {
            run_name: layout::run_name(&run.info).to_string(),
            run_id: id.into_string(),
            dir,
            files,
            preview,
        })
    }

    /// The page's HTML: no I/O, so a test can render a hand-built folder and file.
    pub fn render(&self) -> Markup {
        let (id, dir, name) = (&self.run_id, &self.dir, &self.run_name);
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
                    @if self.files.is_empty() { p.empty { "Empty folder." } } @else { (listing(id, dir, &self.files)) }
                }
                section.preview aria-label="Preview" {
                    @match &self.preview {
                        Some((file, preview)) => {
                            h2 { (file) }
                            p { a href={ "/runs/" (id) "/artifact" (to_query(&[("path", file)])) } download { "Download" } }
                            (render_preview(id, file, preview))
                        }
                        None => p.empty { "Choose a file to preview it." },
                    }
                }
            }
        };
        layout::document(&format!("Artifacts of {name}"), body)
    }
}

/// The start of a file, at most [`PREVIEW_BYTES`], and its whole size.
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

/// A file's preview by its kind: the image itself, pretty JSON, a CSV's first rows,
/// text, or a note that it is binary.
fn render_preview(run_id: &str, file: &str, preview: &Preview) -> Markup {
    let (bytes, size) = match preview {
        Preview::Image => {
            return html! {
                img.artifact src={ "/runs/" (run_id) "/artifact" (to_query(&[("path", file)])) } alt=(file);
            }
        }
        Preview::Head { bytes, size } => (bytes.as_slice(), *size),
    };
    let kind = kind(file);
    let cut = size as usize > bytes.len();
    let note = html! {
        p.muted { (format::bytes(size)) @if cut { ", first " (format::bytes(bytes.len() as u64)) " shown" } }
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => Some(t),
        // A preview cut inside a character is still text.
        Err(e) if cut && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    let Some(text) = text.filter(|t| !t.contains('\0')) else {
        return html! { (note) p.empty { "A binary file: download it to open it." } };
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
    html! { (note) (shown) }
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
    let run = state.tracking.get_run(&RunId::parse(id)?).await?;
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

    fn page(dir: &str, preview: Option<(&str, Preview)>) -> ArtifactsPage {
        ArtifactsPage {
            run_id: "abc".into(),
            run_name: "r <1>".into(),
            dir: dir.into(),
            files: vec![
                FileInfo {
                    path: "sub dir".into(),
                    is_dir: true,
                    file_size: None,
                },
                FileInfo {
                    path: "a.csv".into(),
                    is_dir: false,
                    file_size: Some(2048),
                },
            ],
            preview: preview.map(|(f, p)| (f.to_string(), p)),
        }
    }

    fn head(text: &[u8], size: u64) -> Preview {
        Preview::Head {
            bytes: text.to_vec(),
            size,
        }
    }

    #[test]
    fn a_folder_lists_its_files_under_a_trail() {
        let html = page("data/x", None).render().into_string();
        assert!(
            html.contains("<title>Artifacts of r &lt;1&gt; · cairn</title>"),
            "{html}"
        );
        assert!(
            html.contains(r#"href="/runs/abc/artifacts?path=data">data</a>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"href="/runs/abc/artifacts?path=data%2Fx">x</a></nav>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"href="/runs/abc/artifacts?path=data%2Fx%2Fsub+dir">sub dir/</a>"#),
            "{html}"
        );
        assert!(html.contains("2.0 KiB"));
        assert!(html.contains("Choose a file to preview it."));

        let mut empty = page("", None);
        empty.files.clear();
        assert!(empty.render().into_string().contains("Empty folder."));
    }

    #[test]
    fn previews_follow_the_kind_of_file() {
        let csv = page("", Some(("a.csv", head(b"x,y\n1,<2>\n", 10))))
            .render()
            .into_string();
        assert!(csv.contains("<th>x</th><th>y</th>"), "{csv}");
        assert!(
            csv.contains("<td>&lt;2&gt;</td>") && csv.contains("First 1 rows."),
            "{csv}"
        );
        assert!(
            csv.contains(r#"href="/runs/abc/artifact?path=a.csv" download"#),
            "{csv}"
        );

        let json = page("", Some(("r.json", head(br#"{"a":[1]}"#, 9))))
            .render()
            .into_string();
        assert!(
            json.contains("&quot;a&quot;: [\n    1\n  ]"),
            "pretty JSON: {json}"
        );

        let bin = page("", Some(("w.txt", head(b"a\0b", 3))))
            .render()
            .into_string();
        assert!(
            bin.contains("A binary file: download it to open it."),
            "{bin}"
        );

        // A cut file says how much is shown; a character cut in two is dropped.
        let cut = page(
            "",
            Some((
                "big.log",
                head("aé".as_bytes().get(..2).unwrap_or_default(), 5000),
            )),
        )
        .render()
        .into_string();
        assert!(cut.contains("4.9 KiB, first 2 B shown"), "{cut}");
        assert!(cut.contains(r#"<pre class="code">a</pre>"#), "{cut}");

        let img = page("", Some(("p.png", Preview::Image)))
            .render()
            .into_string();
        assert!(
            img.contains(
                r#"<img class="artifact" src="/runs/abc/artifact?path=p.png" alt="p.png">"#
            ),
            "{img}"
        );
    }

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
