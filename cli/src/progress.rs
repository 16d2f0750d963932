//! `check`'s progress bar: indicatif on standard error, fed by the crate's progress callbacks
//! (`pcoll::inspect::inspect_with_progress`, `Pool::check_with_progress`). Shown for a pool
//! file over [`AUTO_BYTES`] when standard error is a terminal; `--progress` draws it always
//! (even into a pipe), `--no-progress` never. Standard output is never touched.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pcoll::{Progress, Walk};

/// Pool files larger than this get a bar by default (when standard error is a terminal).
pub(crate) const AUTO_BYTES: u64 = 100 << 20;

/// Positions per unit of a stage's weight: the crate's `done / total` is scaled to them.
const SCALE: u64 = 10_000;

/// What `--progress` and `--no-progress` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// A bar for pool files over [`AUTO_BYTES`] when standard error is a terminal.
    Auto,
    /// `--progress`: a bar whatever the size, even when standard error is not a terminal.
    Always,
    /// `--no-progress`.
    Never,
}

impl When {
    /// From the two flags (clap makes them exclusive).
    pub(crate) fn from_flags(progress: bool, no_progress: bool) -> When {
        match (progress, no_progress) {
            (true, _) => When::Always,
            (_, true) => When::Never,
            _ => When::Auto,
        }
    }
}

/// Where the bar goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Standard error, a terminal.
    Terminal,
    /// Standard error, whatever it is.
    Forced,
}

impl When {
    /// Whether to draw, for a pool file of `file_bytes` and a standard error that is or is
    /// not a `terminal`.
    fn draw(self, file_bytes: u64, terminal: bool) -> Option<Target> {
        match self {
            When::Never => None,
            When::Always => Some(Target::Forced),
            When::Auto => (file_bytes > AUTO_BYTES && terminal).then_some(Target::Terminal),
        }
    }
}

/// A bar over stages, one call of the crate each (inspect, then the typed check when there
/// is a type), each its share of the bar; hidden when not wanted. Cleared when dropped, so
/// that whatever is printed next starts on a clean line.
pub(crate) struct Bar {
    bar: ProgressBar,
    /// Each stage's share of the bar, in units of [`SCALE`] positions.
    weights: Vec<u64>,
    /// The stage under way (0-based), where it starts on the bar, the walk it last reported.
    stage: usize,
    start: u64,
    walk: Option<Walk>,
    /// The position last handed to indicatif: it hears of a thousandth of the bar or more.
    shown: u64,
}

impl Bar {
    /// The bar for checking `file` in stages that take about `weights` time each (the typed
    /// check builds a table of the blocks and walks the values, several times the work of
    /// `inspect`), as `when` says.
    pub(crate) fn new(when: When, file: &Path, weights: &[u64]) -> Bar {
        let mut bar = Bar {
            bar: ProgressBar::hidden(),
            weights: weights.to_vec(),
            stage: 0,
            start: 0,
            walk: None,
            shown: 0,
        };
        let file_bytes = std::fs::metadata(file).map_or(0, |m| m.len());
        let target = match when.draw(file_bytes, std::io::stderr().is_terminal()) {
            None => return bar,
            Some(Target::Terminal) => ProgressDrawTarget::stderr(),
            // indicatif's `stderr()` hides itself off a terminal: its terminal type does not.
            Some(Target::Forced) => {
                ProgressDrawTarget::term_like_with_hz(Box::new(console::Term::stderr()), 20)
            }
        };
        let style = ProgressStyle::with_template(
            "{spinner} checking {prefix}: {msg:18} [{wide_bar}] {percent:>3}% ({elapsed}, eta {eta})",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let len = weights.iter().sum::<u64>().max(1) * SCALE;
        bar.bar = ProgressBar::with_draw_target(Some(len), target)
            .with_style(style)
            .with_prefix(name)
            .with_message("opening");
        bar.bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    /// Starts the next stage (the first starts with the bar).
    pub(crate) fn next_stage(&mut self) {
        self.start += self.width();
        self.stage += 1;
        self.walk = None;
        self.show(self.start);
    }

    /// The positions of the stage under way.
    fn width(&self) -> u64 {
        self.weights.get(self.stage).copied().unwrap_or(0) * SCALE
    }

    /// What the crate's callback reported, within the stage under way.
    pub(crate) fn update(&mut self, p: Progress) {
        if self.bar.is_hidden() {
            return;
        }
        if self.walk != Some(p.walk) {
            self.walk = Some(p.walk);
            self.bar.set_message(p.walk.describe());
        }
        let within = (p.fraction().clamp(0.0, 1.0) * self.width() as f64) as u64;
        self.show(self.start + within);
    }

    /// Moves the bar to `pos` if that is a thousandth of it or more from where it was: a
    /// redraw at most that often, whatever the pool.
    fn show(&mut self, pos: u64) {
        let step = (self.weights.iter().sum::<u64>() * SCALE / 1000).max(1);
        if pos / step != self.shown / step {
            self.shown = pos;
            self.bar.set_position(pos);
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{AUTO_BYTES, Target, When};

    #[test]
    fn drawn_for_big_pools_on_a_terminal_or_when_asked() {
        let big = AUTO_BYTES + 1;
        assert_eq!(When::Auto.draw(big, true), Some(Target::Terminal));
        assert_eq!(
            When::Auto.draw(AUTO_BYTES, true),
            None,
            "100 MiB is not over"
        );
        assert_eq!(When::Auto.draw(big, false), None, "not on a pipe");
        assert_eq!(When::Always.draw(0, false), Some(Target::Forced));
        assert_eq!(When::Never.draw(big, true), None);
        assert_eq!(When::from_flags(true, false), When::Always);
        assert_eq!(When::from_flags(false, true), When::Never);
        assert_eq!(When::from_flags(false, false), When::Auto);
    }
}
