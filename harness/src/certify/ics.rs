//! The ICS (implementation conformance statement): what a device under test declares it is
//! and can do, in YAML (`docs/certification.md`). It selects the test plan's cases, so a
//! wrong declaration is caught before anything runs: every key is required (silence is not
//! a declaration), contradictions are refused ([`Ics::inconsistencies`]), and the device's
//! `hello` must announce exactly the protocol capabilities the ICS declares
//! ([`Ics::hello_mismatch`]).
//!
//! The capability names live here ([`CAPABILITIES`]); the parser, the schema, the plans'
//! applicability expressions and the `hello` check import them.

use crate::dut::protocol::{Capability as Wire, DeviceHello};
use crate::yaml::{Diagnostics, Document, Map, Node};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// The ICS format's version this harness reads.
pub const ICS_VERSION: i64 = 1;

/// One capability a device may declare: its name in the ICS and in plans, the adapter
/// protocol capability that announces it in `hello` (if the protocol has one), and what it
/// means.
#[derive(Clone, Debug)]
pub struct CapabilityInfo {
    pub name: &'static str,
    pub hello: Option<Wire>,
    pub meaning: &'static str,
}

/// Every capability of an ICS, in the order the file lists them.
pub const CAPABILITIES: &[CapabilityInfo] = &[
    CapabilityInfo {
        name: "pin_pad",
        hello: Some(Wire::Pin),
        meaning: "the shuffled 4-digit PIN pad (the PIN path)",
    },
    CapabilityInfo {
        name: "face",
        hello: Some(Wire::Face),
        meaning: "face authentication against the chip photo",
    },
    CapabilityInfo {
        name: "camera_clips",
        hello: Some(Wire::CameraClips),
        meaning: "takes camera clips over the adapter link (how the harness shows a face)",
    },
    CapabilityInfo {
        name: "camera_frames",
        hello: Some(Wire::CameraFrames),
        meaning: "takes streamed camera frames over TCP (reserved by this harness)",
    },
    CapabilityInfo {
        name: "face_card_without_pin",
        hello: None,
        meaning: "face-authentication cards (顔認証マイナンバーカード), which have no PIN",
    },
    CapabilityInfo {
        name: "smartphone_iphone",
        hello: None,
        meaning: "the smartphone certificate of an iPhone through an external reader",
    },
    CapabilityInfo {
        name: "smartphone_android",
        hello: None,
        meaning: "the smartphone certificate of an Android phone through an external reader",
    },
    CapabilityInfo {
        name: "staff_visual_check",
        hello: Some(Wire::VisualCheck),
        meaning: "the staff visual-check mode (目視確認モード)",
    },
    CapabilityInfo {
        name: "registration",
        hello: Some(Wire::Registration),
        meaning: "registration for insurance use at the reader",
    },
    CapabilityInfo {
        name: "consent",
        hello: Some(Wire::Consent),
        meaning: "the consent screens",
    },
    CapabilityInfo {
        name: "consent_items",
        hello: None,
        meaning: "consent item by item (individual consent)",
    },
    CapabilityInfo {
        name: "consent_carry_over",
        hello: None,
        meaning: "consent carried over at a return visit to the same facility",
    },
    CapabilityInfo {
        name: "desk",
        hello: Some(Wire::Desk),
        meaning: "judges documents shown at the front desk (the fallback ladder)",
    },
];

/// The names of [`CAPABILITIES`].
pub fn capability_names() -> Vec<&'static str> {
    CAPABILITIES.iter().map(|c| c.name).collect()
}

/// Whether `name` is a capability of the ICS format.
pub fn is_capability(name: &str) -> bool {
    CAPABILITIES.iter().any(|c| c.name == name)
}

/// Declarations that cannot all be true: (capability, what it needs, why).
pub const NEEDS: &[(&str, &str, &str)] = &[
    (
        "face",
        "camera_clips",
        "the harness shows a face to a device only as clips over the link",
    ),
    (
        "camera_clips",
        "face",
        "camera clips are played only by a face path",
    ),
    (
        "face_card_without_pin",
        "face",
        "a face-authentication card has no PIN: face is its only way",
    ),
    (
        "consent_items",
        "consent",
        "individual consent is one of the consent screens",
    ),
    (
        "consent_carry_over",
        "consent",
        "carrying consent over needs the consent screens",
    ),
];

/// The top-level keys of an ICS, all required.
pub const TOP_KEYS: &[&str] = &["ics_version", "identity", "capabilities", "limits", "link"];
/// The keys of `identity:` (all required).
pub const IDENTITY_KEYS: &[&str] = &[
    "vendor",
    "model",
    "hardware_revision",
    "firmware",
    "firmware_sha256",
];
/// The keys of `limits:` (all required).
pub const LIMIT_KEYS: &[&str] = &["face_tries", "face_try_time", "step_time"];
/// `limits.face_tries`.
pub const FACE_TRIES: std::ops::RangeInclusive<i64> = 1..=10;
/// The keys of `link:`, and those required.
pub const LINK_KEYS: &[&str] = &["transport", "baud"];
pub const REQUIRED_LINK_KEYS: &[&str] = &["transport"];
/// `link.transport`.
pub const TRANSPORTS: &[(&str, Transport)] =
    &[("tcp", Transport::Tcp), ("serial", Transport::Serial)];
/// `link.baud` (serial only).
pub const BAUDS: std::ops::RangeInclusive<i64> = 1_200..=4_000_000;

/// The ICS format, for its diagnostics (an ICS holds no secret).
pub const ICS_FORMAT: crate::yaml::Format = crate::yaml::Format {
    top_keys: &[TOP_KEYS],
    secrets: &[],
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Serial,
}

/// Who the device is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub vendor: String,
    pub model: String,
    pub hardware_revision: String,
    /// The firmware version, as the device's `hello` says it.
    pub firmware: String,
    /// SHA-256 of the firmware image, 64 lower-case hex digits.
    pub firmware_sha256: String,
}

/// What the device declares of its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Face tries before the PIN is offered.
    pub face_tries: u8,
    /// The longest one face try looks at the camera.
    pub face_try_time: Duration,
    /// The longest any one step (a stimulus) takes.
    pub step_time: Duration,
}

/// The link the device is reached over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub transport: Transport,
    pub baud: Option<u32>,
}

/// A device's declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ics {
    pub identity: Identity,
    /// The capabilities declared true (every one of [`CAPABILITIES`] is declared).
    pub capabilities: BTreeSet<&'static str>,
    pub limits: Limits,
    pub link: Link,
}

/// Why an ICS was refused.
#[derive(Debug, thiserror::Error)]
pub enum IcsError {
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl crate::failure::Classified for IcsError {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Input
    }

    fn rendered(&self) -> bool {
        true
    }
}

impl Ics {
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.contains(capability)
    }

    /// Declarations that contradict each other, in words (empty: consistent).
    pub fn inconsistencies(&self) -> Vec<String> {
        NEEDS
            .iter()
            .filter(|(has, needs, _)| self.has(has) && !self.has(needs))
            .map(|(has, needs, why)| format!("`{has}` is declared without `{needs}`: {why}"))
            .collect()
    }

    /// The protocol capabilities this ICS says the device announces.
    pub fn announced(&self) -> BTreeSet<String> {
        CAPABILITIES
            .iter()
            .filter(|c| self.has(c.name))
            .filter_map(|c| c.hello.as_ref().map(|w| w.as_str().to_owned()))
            .collect()
    }

    /// How the device's `hello` differs from this declaration (the capabilities an ICS
    /// declares, and the firmware version); `None` when it agrees. A capability of the test
    /// bench rather than the product (`operator_ui`, a test UI for the bench's person) is
    /// not the ICS's to declare, and not compared.
    pub fn hello_mismatch(&self, hello: &DeviceHello) -> Option<String> {
        let known: BTreeSet<String> = hello
            .capabilities
            .iter()
            .filter(|c| CAPABILITIES.iter().any(|i| i.hello.as_ref() == Some(*c)))
            .map(|c| c.as_str().to_owned())
            .collect();
        let declared = self.announced();
        let mut why = Vec::new();
        let extra: Vec<_> = known.difference(&declared).cloned().collect();
        let missing: Vec<_> = declared.difference(&known).cloned().collect();
        if !extra.is_empty() {
            why.push(format!(
                "the device announces {} that the ICS does not declare",
                extra.join(", ")
            ));
        }
        if !missing.is_empty() {
            why.push(format!(
                "the ICS declares {} that the device does not announce",
                missing.join(", ")
            ));
        }
        if hello.firmware != self.identity.firmware {
            why.push(format!(
                "the device runs firmware {:?}, the ICS declares {:?}",
                hello.firmware, self.identity.firmware
            ));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// Reads and checks the ICS at `path` (a missing or empty file is refused like any other
/// mistake, at file:1:1).
pub fn load_ics(path: &Path) -> Result<Ics, IcsError> {
    let text = crate::yaml::read_input(path)
        .map_err(|e| IcsError::Invalid(Diagnostics(vec![e.diagnostic(path)])))?;
    parse_ics(path, &text).map_err(IcsError::Invalid)
}

/// Converts ICS text; `path` names it in diagnostics.
pub fn parse_ics(path: &Path, text: &str) -> Result<Ics, Diagnostics> {
    let doc = Document::new(path, text).with_format(ICS_FORMAT);
    if text.trim().is_empty() {
        doc.report_file(
            "the ICS is empty: a certification run needs the device's declaration",
            Some("start from ics/myna-dut-ref.yaml (docs/certification.md)"),
        );
        return doc.finish(None);
    }
    let ics = doc.parse(text).and_then(|root| convert(doc.node(&root)));
    doc.finish(ics)
}

fn convert(root: Node<'_, '_>) -> Option<Ics> {
    let map = root.root_map(TOP_KEYS)?;
    map.require_all(TOP_KEYS);
    let version = map
        .get("ics_version")
        .and_then(|n| n.integer(ICS_VERSION..=ICS_VERSION));
    let identity = map.get("identity").and_then(identity);
    let capabilities = map.get("capabilities").and_then(capabilities);
    let limits = map.get("limits").and_then(limits);
    let link = map.get("link").and_then(link);
    version?;
    let ics = Ics {
        identity: identity?,
        capabilities: capabilities?,
        limits: limits?,
        link: link?,
    };
    let wrong = ics.inconsistencies();
    if !wrong.is_empty() {
        let node = map.get("capabilities").unwrap_or(map.node());
        for why in &wrong {
            node.report(why, Some("declare what the device does, all of it"));
        }
        return None;
    }
    Some(ics)
}

/// A text value (a version such as `2.4` is text, not a number).
fn text(map: &Map<'_, '_>, key: &str) -> Option<String> {
    let value = map.get(key)?.text()?;
    if value.trim().is_empty() {
        map.get(key)?.report(&format!("`{key}` is empty"), None);
        return None;
    }
    Some(value)
}

fn identity(node: Node<'_, '_>) -> Option<Identity> {
    let map = node.map(IDENTITY_KEYS)?;
    map.require_all(IDENTITY_KEYS);
    let vendor = text(&map, "vendor");
    let model = text(&map, "model");
    let hardware_revision = text(&map, "hardware_revision");
    let firmware = text(&map, "firmware");
    let firmware_sha256 = map.get("firmware_sha256").and_then(|n| {
        let s = n.text()?;
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Some(s)
        } else {
            n.report(
                "`firmware_sha256` is the SHA-256 of the firmware image: 64 lower-case hex digits",
                Some("sha256sum firmware.bin"),
            );
            None
        }
    });
    Some(Identity {
        vendor: vendor?,
        model: model?,
        hardware_revision: hardware_revision?,
        firmware: firmware?,
        firmware_sha256: firmware_sha256?,
    })
}

fn capabilities(node: Node<'_, '_>) -> Option<BTreeSet<&'static str>> {
    let names = capability_names();
    let map = node.map(&names)?;
    map.require_all(&names);
    let mut declared = BTreeSet::new();
    let mut ok = true;
    for c in CAPABILITIES {
        match map.get(c.name).map(|n| n.boolean()) {
            Some(Some(true)) => {
                declared.insert(c.name);
            }
            Some(Some(false)) => {}
            _ => ok = false,
        }
    }
    ok.then_some(declared)
}

fn limits(node: Node<'_, '_>) -> Option<Limits> {
    let map = node.map(LIMIT_KEYS)?;
    map.require_all(LIMIT_KEYS);
    let face_tries = map.get("face_tries").and_then(|n| n.integer(FACE_TRIES));
    let face_try_time = map.get("face_try_time").and_then(|n| n.duration());
    let step_time = map.get("step_time").and_then(|n| n.duration());
    Some(Limits {
        face_tries: face_tries? as u8,
        face_try_time: face_try_time?,
        step_time: step_time?,
    })
}

fn link(node: Node<'_, '_>) -> Option<Link> {
    let map = node.map(LINK_KEYS)?;
    map.require_all(REQUIRED_LINK_KEYS);
    let transport = map.get("transport").and_then(|n| n.choice(TRANSPORTS))?;
    let baud = match (transport, map.get("baud")) {
        (Transport::Serial, Some(n)) => Some(n.integer(BAUDS)? as u32),
        (Transport::Serial, None) => {
            map.node()
                .report("a serial link declares its `baud`", Some("baud: 115200"));
            return None;
        }
        (Transport::Tcp, Some(n)) => {
            n.report("`baud` is for a serial link", Some("remove it"));
            return None;
        }
        (Transport::Tcp, None) => None,
    };
    Some(Link { transport, baud })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
ics_version: 1
identity:
  vendor: Example
  model: FR-1
  hardware_revision: B
  firmware: 2.4.1
  firmware_sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
capabilities:
  pin_pad: true
  face: true
  camera_clips: true
  camera_frames: false
  face_card_without_pin: true
  smartphone_iphone: false
  smartphone_android: false
  staff_visual_check: false
  registration: true
  consent: true
  consent_items: true
  consent_carry_over: true
  desk: false
limits:
  face_tries: 3
  face_try_time: 3s
  step_time: 10s
link:
  transport: tcp
";

    fn parse(text: &str) -> Result<Ics, String> {
        parse_ics(Path::new("ics.yaml"), text).map_err(|d| d.to_string())
    }

    #[test]
    fn a_whole_declaration_is_read() {
        let ics = parse(GOOD).unwrap();
        assert!(ics.has("face") && !ics.has("desk"));
        assert_eq!(ics.limits.face_tries, 3);
        assert_eq!(ics.link.transport, Transport::Tcp);
        assert_eq!(
            ics.announced().into_iter().collect::<Vec<_>>(),
            ["camera_clips", "consent", "face", "pin", "registration"]
        );
    }

    #[test]
    fn silence_and_contradictions_are_refused_with_their_place() {
        let missing = parse(&GOOD.replace("  desk: false\n", "")).unwrap_err();
        assert!(missing.contains("desk"), "{missing}");
        let contradiction =
            parse(&GOOD.replace("camera_clips: true", "camera_clips: false")).unwrap_err();
        assert!(
            contradiction.contains("`face` is declared without `camera_clips`"),
            "{contradiction}"
        );
        assert!(contradiction.contains("ics.yaml:9:"), "{contradiction}");
        let empty = parse("\n").unwrap_err();
        assert!(empty.contains("the ICS is empty"), "{empty}");
        let serial = parse(&GOOD.replace("transport: tcp", "transport: serial")).unwrap_err();
        assert!(serial.contains("baud"), "{serial}");
        let sha = parse(&GOOD.replace("0123456789abcdef0123", "0123456789ABCDEF0123")).unwrap_err();
        assert!(sha.contains("64 lower-case hex"), "{sha}");
    }

    #[test]
    fn the_hello_must_announce_exactly_what_is_declared() {
        let ics = parse(GOOD).unwrap();
        let mut hello = DeviceHello {
            protocol: "myna-hil-dut".into(),
            version: 1,
            vendor: "Example".into(),
            model: "FR-1".into(),
            firmware: "2.4.1".into(),
            serial: None,
            capabilities: vec![
                Wire::Pin,
                Wire::Face,
                Wire::CameraClips,
                Wire::Consent,
                Wire::Registration,
                Wire::Other("vendor_extension".into()),
                // The bench's test UI: not the product's, not the ICS's.
                Wire::OperatorUi,
            ],
            clip_formats: Vec::new(),
        };
        assert_eq!(ics.hello_mismatch(&hello), None);
        hello.capabilities.push(Wire::Desk);
        hello.capabilities.retain(|c| *c != Wire::Pin);
        hello.firmware = "2.4.2".into();
        let why = ics.hello_mismatch(&hello).unwrap();
        assert!(why.contains("announces desk"), "{why}");
        assert!(why.contains("declares pin"), "{why}");
        assert!(why.contains("firmware \"2.4.2\""), "{why}");
    }
}
