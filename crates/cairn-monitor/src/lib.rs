//! Data drift as Evidently 0.7 computes it ([`drift`]), over tables read from CSV or
//! Parquet with DataFusion ([`table`]), and its HTML report ([`html`]).

pub mod drift;
pub mod html;
pub mod stattests;
pub mod table;

/// What can go wrong: the input (a file, a column, an option) is refused with a
/// message that names it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Input(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
