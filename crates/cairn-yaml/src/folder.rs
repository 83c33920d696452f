//! A folder of YAML files, each defining one named item (a job, a data contract),
//! read again when it changes.
//!
//! A saved change is used by the next reader without a restart. A file that no
//! longer reads keeps its last good version active, and its error is kept beside it
//! (shown in the UI and logged once per change), so a typo never stops a nightly job
//! or a quality check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

/// What a folder holds: one item per file.
pub trait FolderItem: Send + Sync + Sized + 'static {
    /// What parsing needs besides the text (the registry of step kinds, say).
    type Context: Send + Sync + 'static;
    /// The kind of item, for messages ("job").
    const KIND: &'static str;
    /// Reads a file's text; `path` names it in errors.
    fn parse(text: &str, path: &Path, context: &Self::Context) -> Result<Self, String>;
    /// The item's name, unique in the folder.
    fn name(&self) -> &str;
    /// The file it was read from.
    fn file(&self) -> &Path;
    /// The text it was read from.
    fn source(&self) -> &str;
    /// Its version (a digest of its text).
    fn version(&self) -> &str;
}

/// What the folder holds now.
#[derive(Debug)]
pub struct FolderState<T> {
    /// Active items by name: each file's latest good version.
    pub items: BTreeMap<String, Arc<T>>,
    /// Files whose latest text does not read, with the error (their last good
    /// version, if any, stays in `items`).
    pub errors: BTreeMap<PathBuf, String>,
}

impl<T> Default for FolderState<T> {
    fn default() -> Self {
        FolderState {
            items: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }
}

impl<T: FolderItem> FolderState<T> {
    pub fn get(&self, name: &str) -> Option<&Arc<T>> {
        self.items.get(name)
    }

    /// The error of the file that defines `name`, if its latest edit is broken.
    pub fn error_for(&self, name: &str) -> Option<&str> {
        let file = self.items.get(name)?.file();
        self.errors.get(file).map(String::as_str)
    }
}

/// The folder, its state swapped atomically on each reload.
pub struct Folder<T: FolderItem> {
    dir: PathBuf,
    context: Arc<T::Context>,
    state: ArcSwap<FolderState<T>>,
    /// Each file's text at its last read, so an unchanged file is not parsed again
    /// and an error is logged once per edit.
    seen: Mutex<BTreeMap<PathBuf, String>>,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

impl<T: FolderItem> Folder<T> {
    /// Reads the folder (creating it when missing).
    pub fn open(dir: &Path, context: Arc<T::Context>) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(dir)?;
        let folder = Arc::new(Folder {
            dir: dir.to_path_buf(),
            context,
            state: ArcSwap::from_pointee(FolderState::default()),
            seen: Mutex::new(BTreeMap::new()),
            watcher: Mutex::new(None),
        });
        folder.reload();
        Ok(folder)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn context(&self) -> &T::Context {
        &self.context
    }

    /// The state now (cheap: a pointer).
    pub fn state(&self) -> Arc<FolderState<T>> {
        self.state.load_full()
    }

    /// Reads the folder again: changed files are parsed, broken ones keep their last
    /// good version, removed ones take their item away.
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
                tracing::warn!(dir = %self.dir.display(), error = %e, kind = T::KIND, "cannot read the folder");
                return;
            }
        };
        files.sort();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut next: FolderState<T> = FolderState::default();
        // The last good version of each file, from the previous state.
        let previous: BTreeMap<&Path, &Arc<T>> =
            old.items.values().map(|j| (j.file(), j)).collect();
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
                Some(item) if unchanged && item.source() == text => Ok(Arc::clone(item)),
                _ if unchanged => match old.errors.get(file) {
                    Some(e) => Err(e.clone()),
                    None => T::parse(&text, file, &self.context).map(Arc::new),
                },
                _ => T::parse(&text, file, &self.context).map(Arc::new),
            };
            let parsed = parsed.and_then(|item| match next.items.get(item.name()) {
                Some(other) => Err(format!(
                    "{}: {} `{}` is already defined in {}",
                    file.display(),
                    T::KIND,
                    item.name(),
                    other.file().display()
                )),
                None => Ok(item),
            });
            match parsed {
                Ok(item) => {
                    if !unchanged {
                        tracing::debug!(kind = T::KIND, name = %item.name(), file = %file.display(), version = %item.version(), "file read");
                    }
                    next.items.insert(item.name().to_string(), item);
                }
                Err(error) => {
                    if !unchanged {
                        tracing::warn!(kind = T::KIND, file = %file.display(), %error, "file refused; its last good version stays active");
                    }
                    if let Some(good) = previous.get(file.as_path()) {
                        if !next.items.contains_key(good.name()) {
                            next.items.insert(good.name().to_string(), Arc::clone(good));
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
        let folder = Arc::downgrade(self);
        std::thread::Builder::new()
            .name(format!("cairn-{}-watch", T::KIND))
            .spawn(move || {
                while rx.recv().is_ok() {
                    std::thread::sleep(Duration::from_millis(50));
                    while rx.try_recv().is_ok() {}
                    match folder.upgrade() {
                        Some(folder) => folder.reload(),
                        None => break,
                    }
                }
            })
            .map_err(notify::Error::io)?;
        Ok(())
    }
}
