//! The jobs folder: every `*.yaml`/`*.yml` file in it is a job, read again when it
//! changes (see [`cairn_yaml::folder`]: a broken edit keeps the last good version).

use std::path::Path;

use cairn_yaml::folder::{Folder, FolderItem, FolderState};

use crate::kinds::Registry;
use crate::spec::JobSpec;

/// The jobs folder.
pub type JobLibrary = Folder<JobSpec>;

/// What the jobs folder holds now.
pub type LibraryState = FolderState<JobSpec>;

impl FolderItem for JobSpec {
    type Context = Registry;
    const KIND: &'static str = "job";

    fn parse(text: &str, path: &Path, registry: &Registry) -> Result<Self, String> {
        JobSpec::parse(text, path, registry).map_err(|e| e.to_string())
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn file(&self) -> &Path {
        &self.file
    }

    fn source(&self) -> &str {
        &self.source
    }

    fn version(&self) -> &str {
        &self.version
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const GOOD: &str =
        "name: nightly\nsteps:\n  - name: hello\n    kind: command\n    argv: [echo, one]\n";

    #[test]
    fn a_broken_edit_keeps_the_last_good_version_with_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nightly.yaml");
        std::fs::write(&file, GOOD).unwrap();
        let lib = JobLibrary::open(dir.path(), Arc::new(Registry::default())).unwrap();
        let v1 = lib.state().get("nightly").unwrap().version.clone();

        std::fs::write(&file, GOOD.replace("argv", "argz")).unwrap();
        lib.reload();
        let state = lib.state();
        assert_eq!(
            state.get("nightly").unwrap().version,
            v1,
            "the last good version stays"
        );
        let err = state.error_for("nightly").unwrap();
        assert!(
            err.contains("nightly.yaml, line 5") && err.contains("argz"),
            "{err}"
        );

        std::fs::write(&file, GOOD.replace("one", "two")).unwrap();
        lib.reload();
        let state = lib.state();
        assert_ne!(
            state.get("nightly").unwrap().version,
            v1,
            "the fixed edit is used"
        );
        assert!(state.errors.is_empty());

        std::fs::remove_file(&file).unwrap();
        lib.reload();
        assert!(lib.state().items.is_empty());
    }

    #[test]
    fn two_files_may_not_define_one_job() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), GOOD).unwrap();
        std::fs::write(dir.path().join("b.yml"), GOOD).unwrap();
        let lib = JobLibrary::open(dir.path(), Arc::new(Registry::default())).unwrap();
        let state = lib.state();
        assert_eq!(state.items.len(), 1);
        let err = state.errors.values().next().unwrap();
        assert!(err.contains("already defined"), "{err}");
    }
}
