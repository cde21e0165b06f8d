//! The few pieces every crate of myna-hil shares, each with one owner: the seeded random
//! number generator, atomic file writes and printable text. No other dependency, no I/O
//! beyond `fs`.

pub mod fs;
pub mod rng;
pub mod text;
