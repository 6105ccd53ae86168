//! The render layer: what every family's report and every summary draws with (number formats,
//! tables, SVG charts, HTML escaping and page frame, the words for figures, the terminal
//! header), and the renderers of `compare`, `track` and `bench`. Renderers write onto a
//! `&mut dyn io::Write` and never recompute a statistic.

pub mod bench;
pub(crate) mod escape;
pub(crate) mod fmt;
pub(crate) mod header;
pub mod html;
pub(crate) mod interpret;
pub mod many;
pub(crate) mod sides;
pub(crate) mod svg;
pub(crate) mod table;

use std::str::FromStr;

/// When the terminal report uses colour (ripgrep's `--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour output going to a stream that is (or is not) a terminal.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

impl FromStr for ColorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(ColorChoice::Auto),
            "always" => Ok(ColorChoice::Always),
            "never" => Ok(ColorChoice::Never),
            other => Err(format!(
                "unknown colour choice {other:?}; expected auto, always or never"
            )),
        }
    }
}

impl std::fmt::Display for ColorChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ColorChoice::Auto => "auto",
            ColorChoice::Always => "always",
            ColorChoice::Never => "never",
        })
    }
}
