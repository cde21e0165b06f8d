//! What a stretch of a device's messages says: the screens it showed, the last PIN pad, the
//! card's answers to its VERIFYs. For tests of adapters (ours and a vendor's).

use super::protocol::FromDevice;
use crate::reader::Layout;

/// The screens shown, in order.
pub fn screens(messages: &[FromDevice]) -> Vec<&str> {
    messages
        .iter()
        .filter_map(|m| match m {
            FromDevice::Screen { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

/// The last PIN pad shown, if any.
pub fn keypad_layout(messages: &[FromDevice]) -> Option<Layout> {
    messages.iter().rev().find_map(|m| match m {
        FromDevice::KeypadLayout { digits, .. } => Some(Layout { digits: *digits }),
        _ => None,
    })
}

/// The status words of the VERIFYs the device sent, in order.
pub fn verify_sws(messages: &[FromDevice]) -> Vec<u16> {
    messages
        .iter()
        .filter_map(|m| match m {
            FromDevice::VerifyAnswered { sw, .. } => Some(*sw),
            _ => None,
        })
        .collect()
}
