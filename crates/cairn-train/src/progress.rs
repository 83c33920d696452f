//! Progress bars on the terminal (stderr), hidden when it is not one.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone, Copy)]
pub struct Progress {
    pub visible: bool,
}

impl Progress {
    fn bar(&self, len: Option<u64>, template: &str) -> ProgressBar {
        let bar = match len {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        if !self.visible {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar
    }

    pub fn epochs(&self, what: &str) -> ProgressBar {
        let b = self.bar(None, "{spinner} {prefix} {pos} epochs {msg} [{elapsed}]");
        b.set_prefix(what.to_string());
        b
    }

    pub fn trials(&self, n: u64) -> ProgressBar {
        self.bar(
            Some(n),
            "search {bar:30} {pos}/{len} trials [{elapsed} < {eta}]",
        )
    }

    pub fn rows(&self, what: &str, n: u64) -> ProgressBar {
        let b = self.bar(
            Some(n),
            "{prefix} {bar:30} {pos}/{len} texts [{elapsed} < {eta}]",
        );
        b.set_prefix(what.to_string());
        b
    }
}
