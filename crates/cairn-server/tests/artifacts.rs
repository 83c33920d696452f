//! The artifact proxy over HTTP: round trips, listings, paths that try to leave the
//! root, and uploads that break off.

use cairn_testkit::on_both_backends;

use cairn_core::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `head` (request line and headers, without the blank line) and `body` over a
/// raw socket, so the path reaches the server exactly as written (an HTTP client
/// library would normalize `..` and `%2e%2e` away). Returns status and body.
async fn raw(url: &str, head: &str, body: &[u8]) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[cfg(unix)]

on_both_backends! {
    async fn files_round_trip_list_and_delete(s) {
        let c = &s.client;
        let big: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        c.upload_artifact("1/run/artifacts/model/weights.bin", big.clone())
            .await
            .unwrap();
        c.upload_artifact("1/run/artifacts/notes.txt", "hello")
            .await
            .unwrap();
        assert_eq!(
            c.download_artifact("1/run/artifacts/model/weights.bin")
                .await
                .unwrap(),
            big
        );
        assert_eq!(
            c.download_artifact("1/run/artifacts/notes.txt")
                .await
                .unwrap(),
            b"hello"
        );

        let top = c.list_artifacts(Some("1/run/artifacts")).await.unwrap();
        assert_eq!(
            serde_json::Value::Array(top),
            serde_json::json!([
                {"path": "model", "is_dir": true},
                {"path": "notes.txt", "is_dir": false, "file_size": 5}
            ])
        );
        // A missing directory or a file lists as nothing, as MLflow's proxy answers.
        assert!(c.list_artifacts(Some("1/none")).await.unwrap().is_empty());
        assert!(c
            .list_artifacts(Some("1/run/artifacts/notes.txt"))
            .await
            .unwrap()
            .is_empty());

        let e = c
            .download_artifact("1/run/artifacts/missing.txt")
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), e.code()),
            (Some(404), Some(ErrorCode::ResourceDoesNotExist))
        );
        assert!(e.to_string().contains("No such artifact"), "{e}");

        c.delete_artifact("1/run/artifacts/model").await.unwrap();
        assert!(c
            .download_artifact("1/run/artifacts/model/weights.bin")
            .await
            .is_err());
        let left = c.list_artifacts(Some("1/run/artifacts")).await.unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        // Deleting what is not there is not an error.
        c.delete_artifact("1/run/artifacts/model").await.unwrap();
    }

    async fn paths_that_leave_the_root_are_refused_and_touch_nothing(s) {
        let base = "/api/2.0/mlflow-artifacts/artifacts";
        let outside = s.dir.path().join("escaped.txt");
        for path in [
            "../escaped.txt",
            "..%2Fescaped.txt",
            "%2e%2e/escaped.txt",
            "a/%2E%2E/%2e%2e/escaped.txt",
            "/etc/cairn-escape.txt",
            "%2Fetc%2Fcairn-escape.txt",
            "a/b%00.txt",
            "a%5C..%5C..%5Cescaped.txt",
            "a//b.txt",
        ] {
            let (status, body) = raw(&s.url, &format!("PUT {base}/{path} HTTP/1.1"), b"pwned").await;
            assert_eq!(status, 400, "PUT {path}: {body}");
            assert!(
                body.contains("INVALID_PARAMETER_VALUE"),
                "PUT {path}: {body}"
            );
            assert!(body.contains("Invalid path"), "PUT {path}: {body}");
            let (status, _) = raw(&s.url, &format!("GET {base}/{path} HTTP/1.1"), b"").await;
            assert_eq!(status, 400, "GET {path}");
            let (status, _) = raw(&s.url, &format!("DELETE {base}/{path} HTTP/1.1"), b"").await;
            assert_eq!(status, 400, "DELETE {path}");
        }
        let (status, _) = raw(
            &s.url,
            "GET /api/2.0/mlflow-artifacts/artifacts?path=..%2F.. HTTP/1.1",
            b"",
        )
        .await;
        assert_eq!(status, 400);
        assert!(!outside.exists());
        assert!(!std::path::Path::new("/etc/cairn-escape.txt").exists());
        assert!(files_under(&s.dir.path().join("artifacts")).is_empty());
    }

    async fn a_symlink_inside_the_root_is_not_followed(s) {
        let secret_dir = tempfile::tempdir().unwrap();
        std::fs::write(secret_dir.path().join("secret.txt"), "s3cret").unwrap();
        let root = s.dir.path().join("artifacts");
        std::fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(secret_dir.path(), root.join("link")).unwrap();
        let e = s
            .client
            .download_artifact("link/secret.txt")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidParameterValue));
        let e = s
            .client
            .upload_artifact("link/planted.txt", "x")
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(400));
        assert!(!secret_dir.path().join("planted.txt").exists());
    }

    async fn an_upload_that_breaks_off_leaves_no_file(s) {
        let addr = s.url.trim_start_matches("http://").to_string();
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        // Announce 40 MiB, send 20 (several parts' worth), then vanish.
        let head = format!(
            "PUT /api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/big.bin HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            40 * 1024 * 1024
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![7u8; 1024 * 1024];
        for _ in 0..20 {
            tcp.write_all(&chunk).await.unwrap();
        }
        drop(tcp);
        // The server notices the reset and aborts; give it a moment.
        let mut clean = false;
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            if files_under(&s.dir.path().join("artifacts")).is_empty() {
                clean = true;
                break;
            }
        }
        assert!(
            clean,
            "partial upload left files: {:?}",
            files_under(&s.dir.path().join("artifacts"))
        );
        let e = s
            .client
            .download_artifact("1/r/artifacts/big.bin")
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
        assert!(s
            .client
            .list_artifacts(Some("1/r/artifacts"))
            .await
            .unwrap()
            .is_empty());
        // The server is fine afterwards.
        s.client
            .upload_artifact("1/r/artifacts/ok.txt", "ok")
            .await
            .unwrap();
    }

    async fn multipart_is_reported_off_and_refused(s) {
        let info: serde_json::Value = reqwest::get(format!("{}/api/3.0/mlflow/server-info", s.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["multipart_uploads_enabled"], false);
        let (status, body) = raw(
            &s.url,
            "POST /api/2.0/mlflow-artifacts/mpu/create/1/x.bin HTTP/1.1\r\nContent-Type: application/json",
            b"{\"path\": \"1/x.bin\", \"num_parts\": 2}",
        )
        .await;
        assert_eq!(status, 501, "{body}");
        assert!(body.contains("NOT_IMPLEMENTED"), "{body}");
    }
}
