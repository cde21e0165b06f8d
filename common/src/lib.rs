//! The few pieces every crate of myna-hil shares, each with one owner: the seeded random
//! number generator, output files and printable text. No dependency but libc, no I/O
//! beyond `fs`.

pub mod fs;
pub mod rng;
pub mod text;
