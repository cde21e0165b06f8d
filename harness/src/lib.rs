//! myna-hil's harness: the scenario engine, the reference reader, the drivers of devices under
//! test, the PC/SC host driver, card profiles and scenarios, and the three binaries'
//! command lines. The modules are layered (ARCHITECTURE.md, "Layers"); a test keeps the
//! imports pointing down.

pub mod accuracy;
pub mod cards;
pub mod certify;
pub mod channel;
pub mod cli;
pub mod clips;
pub mod conformance;
pub mod dut;
pub mod dut_ref;
pub mod engine;
pub mod face;
pub mod failure;
pub mod live;
pub mod operator;
pub mod photos;
pub mod qualification;
pub mod reader;
pub mod rules;
pub mod scenario;
pub mod sim_clock;
pub mod units;
pub mod yaml;
