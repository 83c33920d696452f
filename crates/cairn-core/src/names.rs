//! Generated run names (`adjective-noun-NNN`), as MLflow gives a run created without one.

use rand::seq::IndexedRandom;
use rand::Rng;

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "daring", "eager",
    "fair", "gentle", "glad", "golden", "grand", "happy", "honest", "keen", "kind", "lively",
    "loyal", "lucky", "merry", "mighty", "nimble", "noble", "patient", "polite", "proud", "quick",
    "quiet", "rare", "restful", "shy", "silent", "sleek", "smart", "steady", "sunny", "swift",
    "tidy", "upbeat", "vivid", "warm", "wise", "witty", "zealous",
];

const NOUNS: &[&str] = &[
    "ant", "badger", "bass", "bear", "bee", "cairn", "cat", "colt", "crane", "crow", "deer",
    "dove", "eel", "elk", "falcon", "finch", "fox", "frog", "gull", "hare", "hawk", "heron",
    "ibex", "jay", "koi", "lark", "lynx", "mole", "moth", "newt", "otter", "owl", "panda", "pike",
    "puffin", "quail", "raven", "seal", "shrew", "sloth", "snail", "stork", "swan", "toad",
    "trout", "vole", "wolf", "wren", "yak",
];

/// A fresh random run name such as `brave-otter-417`.
pub fn random_run_name() -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("quiet");
    let noun = NOUNS.choose(&mut rng).copied().unwrap_or("cairn");
    format!("{adjective}-{noun}-{}", rng.random_range(0..1000))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_have_three_parts() {
        let name = super::random_run_name();
        let parts: Vec<_> = name.split('-').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert!(parts[2].parse::<u32>().is_ok());
    }
}
