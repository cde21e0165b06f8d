//! myna-hil's harness: reads profile (and later scenario) files, talks to cards through the
//! card channel (in process or PC/SC), keeps real cards safe, and runs the checks. The
//! binaries `myna-hil` and `myna-vicc` are thin shells over this library.

pub mod accuracy;
pub mod bench;
pub mod card_channel;
pub mod chip_photo;
pub mod conformance;
pub mod dut;
pub mod engine;
pub mod face;
pub mod guard;
pub mod inprocess_channel;
pub mod pcsc_driver;
pub mod photo_cache;
pub mod profile_file;
pub mod qualification;
pub mod reader;
pub mod rules;
pub mod scenario;
pub mod suite;
pub mod trace;
pub mod yaml;
