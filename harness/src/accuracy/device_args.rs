//! The options of a campaign through a device under test (`myna-hil accuracy --reader
//! dut:…`), apart from the campaign itself so that the command line (`args`) and the
//! campaign (`device`) both import them and neither imports the other.

use crate::dut::link::Address;
use std::path::PathBuf;
use std::time::Duration;

/// The options of a campaign through a device.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DeviceArgs {
    /// Measure a device under test instead of the reference matcher:
    /// `dut:serial:PATH[@BAUD]`, `dut:tcp:HOST:PORT` or `dut:rfc2217://HOST:PORT[@BAUD]`
    /// (docs/adapter-protocol.md); its
    /// emulated cards go through the vpcd readers of pcscd.
    #[arg(long, value_name = "READER", value_parser = parse_device, requires = "card")]
    pub reader: Option<Address>,
    /// The card profile of every transaction (e.g. scenarios/cards/valid.yaml): it must
    /// name a `photo`, which each transaction replaces with its enrolment image, and end on
    /// the face route; the device must know its name (`myna-dut-ref --profiles`).
    #[arg(long, value_name = "PROFILE", requires = "reader")]
    pub card: Option<PathBuf>,
    /// The accuracy policy to judge (e.g. policies/fido-face.yaml): a claim not met, or
    /// one the campaign cannot support, exits 1.
    #[arg(long, value_name = "FILE", requires = "reader")]
    pub policy: Option<PathBuf>,
    /// The most genuine transactions (a seeded sample of the genuine pairs) [default: all].
    #[arg(long, value_name = "N", requires = "reader")]
    pub genuine: Option<usize>,
    /// Frames of each camera clip, at 15 fps (the reference reader's three tries look at
    /// 8 frames each).
    #[arg(long, value_name = "N", default_value_t = 45, requires = "reader")]
    pub frames: u32,
    /// The longest one step of a transaction may take on the device.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_deadline, requires = "reader")]
    pub step_deadline: Duration,
}

/// `--reader`: `dut:` and an adapter-link address.
fn parse_device(text: &str) -> Result<Address, String> {
    text.strip_prefix("dut:")
        .ok_or_else(|| format!("`{text}`: expected dut: and {}", crate::dut::link::FORMS))?
        .parse()
}

/// The step deadlines a campaign accepts.
const STEP_DEADLINES: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(600);

fn parse_deadline(text: &str) -> Result<Duration, String> {
    match crate::units::parse_duration(text) {
        Some(d) if STEP_DEADLINES.contains(&d) => Ok(d),
        _ => Err(format!("`{text}`: a duration from 1s to 600s, e.g. 15s")),
    }
}
