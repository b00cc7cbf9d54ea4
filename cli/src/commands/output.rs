//! What a command prints. Each command returns a typed result whose
//! `Serialize` form is its `--json` shape (docs/cli.md) and which says
//! itself in words through [`Render`]; [`Out::of`] is the one place that
//! turns it into the pair `main` prints.

use serde::Serialize;
use serde_json::Value;

use crate::failure::Failure;

/// A command's result: its serialized fields are the `--json` shape, and
/// it renders itself for people.
pub trait Render: Serialize {
    /// The words a person reads (nothing is printed when empty).
    fn human(&self) -> String;
}

/// What a command prints.
pub struct Out {
    /// For people.
    pub human: String,
    /// For scripts (`--json`).
    pub json: Value,
}

impl Out {
    /// Both renderings of a command's result. The JSON goes through a
    /// `Value`, whose map keeps its keys sorted: the printed field order
    /// stays what scripts have seen, whatever order a struct declares.
    pub fn of(result: &impl Render) -> Result<Out, Failure> {
        // Serializing fails only for a path that is not UTF-8.
        let json = serde_json::to_value(result).map_err(std::io::Error::from)?;
        Ok(Out {
            human: result.human(),
            json,
        })
    }
}
