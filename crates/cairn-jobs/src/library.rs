//! The jobs folder: every `*.yaml`/`*.yml` file in it is a job, read again when it
//! changes.
//!
//! A saved change is used by the next run without a restart. A file that no longer
//! reads keeps its last good version active, and its error is kept beside it (shown
//! in the UI and logged once per change), so a typo never stops a nightly job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::kinds::Registry;
use crate::spec::JobSpec;

/// What the folder holds now.
#[derive(Debug, Default)]
pub struct LibraryState {
    /// Active jobs by name: each file's latest good version.
    pub jobs: BTreeMap<String, Arc<JobSpec>>,
    /// Files whose latest text does not read, with the error (their last good
    /// version, if any, stays in `jobs`).
    pub errors: BTreeMap<PathBuf, String>,
}

impl LibraryState {
    pub fn job(&self, name: &str) -> Option<&Arc<JobSpec>> {
        self.jobs.get(name)
    }

    /// The error of the file that defines `name`, if its latest edit is broken.
    pub fn error_for(&self, name: &str) -> Option<&str> {
        let file = &self.jobs.get(name)?.file;
        self.errors.get(file).map(String::as_str)
    }
}

/// The jobs folder, its state swapped atomically on each reload.
pub struct JobLibrary {
    dir: PathBuf,
    registry: Arc<Registry>,
    state: ArcSwap<LibraryState>,
    /// Each file's text at its last read, so an unchanged file is not parsed again
    /// and an error is logged once per edit.
    seen: Mutex<BTreeMap<PathBuf, String>>,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

impl JobLibrary {
    /// Reads the folder (creating it when missing).
    pub fn open(dir: &Path, registry: Arc<Registry>) -> std::io::Result<Arc<JobLibrary>> {
        std::fs::create_dir_all(dir)?;
        let lib = Arc::new(JobLibrary {
            dir: dir.to_path_buf(),
            registry,
            state: ArcSwap::from_pointee(LibraryState::default()),
            seen: Mutex::new(BTreeMap::new()),
            watcher: Mutex::new(None),
        });
        lib.reload();
        Ok(lib)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The state now (cheap: a pointer).
    pub fn state(&self) -> Arc<LibraryState> {
        self.state.load_full()
    }

    /// Reads the folder again: changed files are parsed, broken ones keep their last
    /// good version, removed ones take their job away.
    pub fn reload(&self) {
        let old = self.state.load_full();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                })
                .collect(),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot read the jobs folder");
                return;
            }
        };
        files.sort();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = LibraryState::default();
        // The last good version of each file, from the previous state.
        let previous: BTreeMap<&Path, &Arc<JobSpec>> =
            old.jobs.values().map(|j| (j.file.as_path(), j)).collect();
        for file in &files {
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) => {
                    next.errors.insert(file.clone(), e.to_string());
                    continue;
                }
            };
            let unchanged = seen.get(file) == Some(&text);
            let parsed = match previous.get(file.as_path()) {
                Some(job) if unchanged && job.source == text => Ok(Arc::clone(job)),
                _ if unchanged => match old.errors.get(file) {
                    Some(e) => Err(e.clone()),
                    None => JobSpec::parse(&text, file, &self.registry)
                        .map(Arc::new)
                        .map_err(|e| e.to_string()),
                },
                _ => JobSpec::parse(&text, file, &self.registry)
                    .map(Arc::new)
                    .map_err(|e| e.to_string()),
            };
            let parsed = parsed.and_then(|job| match next.jobs.get(&job.name) {
                Some(other) => Err(format!(
                    "{}: job `{}` is already defined in {}",
                    file.display(),
                    job.name,
                    other.file.display()
                )),
                None => Ok(job),
            });
            match parsed {
                Ok(job) => {
                    if !unchanged {
                        tracing::info!(job = %job.name, file = %file.display(), version = %job.version, "job file read");
                    }
                    next.jobs.insert(job.name.clone(), job);
                }
                Err(error) => {
                    if !unchanged {
                        tracing::warn!(file = %file.display(), %error, "job file refused; its last good version stays active");
                    }
                    if let Some(good) = previous.get(file.as_path()) {
                        if !next.jobs.contains_key(&good.name) {
                            next.jobs.insert(good.name.clone(), Arc::clone(good));
                        }
                    }
                    next.errors.insert(file.clone(), error);
                }
            }
            seen.insert(file.clone(), text);
        }
        seen.retain(|f, _| files.contains(f));
        self.state.store(Arc::new(next));
    }

    /// Watches the folder and reloads on every change (debounced: an editor's save
    /// is several events).
    pub fn watch(self: &Arc<Self>) -> notify::Result<()> {
        use notify::Watcher;
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if ev.is_ok() {
                let _ = tx.send(());
            }
        })?;
        watcher.watch(&self.dir, notify::RecursiveMode::NonRecursive)?;
        *self.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(watcher);
        let lib = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("cairn-jobs-watch".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    std::thread::sleep(Duration::from_millis(50));
                    while rx.try_recv().is_ok() {}
                    match lib.upgrade() {
                        Some(lib) => lib.reload(),
                        None => break,
                    }
                }
            })
            .map_err(notify::Error::io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "name: nightly\nsteps:\n  - name: hello\n    kind: command\n    argv: [echo, one]\n";

    #[test]
    fn a_broken_edit_keeps_the_last_good_version_with_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nightly.yaml");
        std::fs::write(&file, GOOD).unwrap();
        let lib = JobLibrary::open(dir.path(), Arc::new(Registry::default())).unwrap();
        let v1 = lib.state().job("nightly").unwrap().version.clone();

        std::fs::write(&file, GOOD.replace("argv", "argz")).unwrap();
        lib.reload();
        let state = lib.state();
        assert_eq!(
            state.job("nightly").unwrap().version,
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
            state.job("nightly").unwrap().version,
            v1,
            "the fixed edit is used"
        );
        assert!(state.errors.is_empty());

        std::fs::remove_file(&file).unwrap();
        lib.reload();
        assert!(lib.state().jobs.is_empty());
    }

    #[test]
    fn two_files_may_not_define_one_job() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), GOOD).unwrap();
        std::fs::write(dir.path().join("b.yml"), GOOD).unwrap();
        let lib = JobLibrary::open(dir.path(), Arc::new(Registry::default())).unwrap();
        let state = lib.state();
        assert_eq!(state.jobs.len(), 1);
        let err = state.errors.values().next().unwrap();
        assert!(err.contains("already defined"), "{err}");
    }
}
