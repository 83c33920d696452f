use futures::{stream, StreamExt};

use super::*;

fn p(s: &str) -> ArtifactPath {
    ArtifactPath::parse(s).unwrap()
}

fn chunks(parts: &[&[u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let owned: Vec<Result<Bytes, std::io::Error>> = parts
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(owned)
}

async fn read_all(store: &ArtifactStore, path: &str) -> Vec<u8> {
    let mut d = store.get(&p(path)).await.unwrap();
    let mut out = Vec::new();
    while let Some(c) = d.body.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    assert_eq!(out.len() as u64, d.size);
    out
}

#[test]
fn paths_that_leave_the_root_are_refused() {
    for bad in [
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/./b",
        "a//b",
        "a\\..\\b",
        "a\0b",
        "C:/x",
        "a/\n",
    ] {
        assert!(
            matches!(ArtifactPath::parse(bad), Err(ArtifactError::InvalidPath(_))),
            "{bad:?} was accepted"
        );
    }
    assert_eq!(p("1/run/artifacts/x.txt").as_str(), "1/run/artifacts/x.txt");
    assert_eq!(p("dir/").as_str(), "dir");
    assert!(p("").is_root());
    assert_eq!(p("a").join(&p("b/c")).as_str(), "a/b/c");
}

#[tokio::test]
async fn files_go_up_list_come_down_and_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(dir.path().to_str().unwrap()).unwrap();
    let n = store
        .put(
            &p("1/r/artifacts/sub/a.txt"),
            chunks(&[b"hello ", b"world"]),
        )
        .await
        .unwrap();
    assert_eq!(n, 11);
    store
        .put(&p("1/r/artifacts/b.bin"), chunks(&[b"xyz"]))
        .await
        .unwrap();
    assert_eq!(
        read_all(&store, "1/r/artifacts/sub/a.txt").await,
        b"hello world"
    );

    let listed = store.list(&p("1/r/artifacts")).await.unwrap();
    assert_eq!(
        listed,
        vec![
            FileInfo {
                path: "b.bin".into(),
                is_dir: false,
                file_size: Some(3)
            },
            FileInfo {
                path: "sub".into(),
                is_dir: true,
                file_size: None
            },
        ]
    );
    // A missing directory and a file both list as empty, as MLflow's proxy answers.
    assert!(store.list(&p("nope")).await.unwrap().is_empty());
    assert!(store
        .list(&p("1/r/artifacts/b.bin"))
        .await
        .unwrap()
        .is_empty());

    store.delete(&p("1/r/artifacts/sub")).await.unwrap();
    assert!(matches!(
        store.get(&p("1/r/artifacts/sub/a.txt")).await,
        Err(ArtifactError::NotFound(_))
    ));
    let listed = store.list(&p("1/r/artifacts")).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
}

#[tokio::test]
async fn large_uploads_go_in_parts_and_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(dir.path().to_str().unwrap()).unwrap();
    let block = vec![7u8; 1024 * 1024];
    let parts: Vec<&[u8]> = (0..20).map(|_| block.as_slice()).collect();
    let n = store.put(&p("big.bin"), chunks(&parts)).await.unwrap();
    assert_eq!(n, 20 * 1024 * 1024);
    assert_eq!(read_all(&store, "big.bin").await.len(), 20 * 1024 * 1024);
    store.put(&p("big.bin"), chunks(&[b"small"])).await.unwrap();
    assert_eq!(read_all(&store, "big.bin").await, b"small");
}

#[tokio::test]
async fn an_interrupted_upload_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(dir.path().to_str().unwrap()).unwrap();
    let block = Bytes::from(vec![1u8; 3 * 1024 * 1024]);
    // Enough to start a multipart upload, then the client goes away.
    let body = stream::iter((0..6).map(|_| Ok(block.clone())).chain(std::iter::once(Err(
        std::io::Error::other("connection reset"),
    ))));
    let err = store.put(&p("x/partial.bin"), body).await.unwrap_err();
    assert!(matches!(err, ArtifactError::Interrupted(_)), "{err}");
    assert!(matches!(
        store.get(&p("x/partial.bin")).await,
        Err(ArtifactError::NotFound(_))
    ));
    let mut leftovers = Vec::new();
    for entry in walk(dir.path()) {
        leftovers.push(entry);
    }
    assert!(
        leftovers.iter().all(|f| !f.contains("partial")),
        "staging files left behind: {leftovers:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_inside_a_local_root_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), b"s3cret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let store = ArtifactStore::open(dir.path().to_str().unwrap()).unwrap();
    assert!(matches!(
        store.get(&p("link/secret.txt")).await,
        Err(ArtifactError::InvalidPath(_))
    ));
    assert!(matches!(
        store.put(&p("link/new.txt"), chunks(&[b"x"])).await,
        Err(ArtifactError::InvalidPath(_))
    ));
    assert!(matches!(
        store.delete(&p("link")).await,
        Err(ArtifactError::InvalidPath(_))
    ));
    assert!(!outside.path().join("new.txt").exists());
    assert!(outside.path().join("secret.txt").exists());
}
