//! The `dut` reader driver: a device under test behind the adapter protocol (docs/adapter-protocol.md).

pub mod driver;
pub mod link;
pub mod protocol;
pub mod rfc2217;
pub mod secrets;
pub mod transcript;
