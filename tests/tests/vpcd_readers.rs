//! The sixteen vpcd readers `.ci/vpcd-readers` declares: every reader the configuration
//! gives (as `harness::engine::vpcd_conf` reads `/etc/reader.conf.d`) is listed by pcscd under
//! the predicted name, and a card plugged into the predicted port answers through that reader
//! and no other.
//!
//! CI runs `.ci/setup` (which runs `.ci/vpcd-readers`) first; without the configuration these
//! tests fail, naming the script. The two default readers belong to the other tests' reader
//! slots and are only listed here; cards go into the fourteen others only.

use card_emulator::card::Card;
use card_emulator::image::CardImage;
use card_emulator::vpcd::{VirtualCard, VpcdAddress};
use harness::channel::pcsc_driver::{self, PcscChannel};
use harness::channel::CardChannel;
use harness::engine::vpcd_conf::{self, MAX_READERS, READER_CONF_DIR};
use myna_hil_tests::{ensure_pcscd, shipped_profile};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const SEEN: Duration = Duration::from_secs(5);
const GET_CHALLENGE: [u8; 5] = [0x00, 0x84, 0x00, 0x00, 0x08];

/// The configured vpcd readers, which must be sixteen.
fn configured() -> Vec<(u16, String)> {
    let conf = vpcd_conf::read_reader_conf(Path::new(READER_CONF_DIR));
    if let Some(why) = &conf.refused {
        panic!("pcscd refuses {READER_CONF_DIR}: {why} (fix it, then run .ci/vpcd-readers)");
    }
    assert_eq!(
        conf.readers.len(),
        MAX_READERS,
        "{READER_CONF_DIR} declares {} vpcd readers, not {MAX_READERS}: run `bash \
         .ci/vpcd-readers` as root (CI's .ci/setup does), then restart pcscd; readers {:?}, \
         notes {:?}",
        conf.readers.len(),
        conf.readers,
        conf.notes
    );
    conf.readers
}

#[test]
fn pcscd_lists_every_configured_vpcd_reader() {
    let readers = configured();
    assert_eq!(readers[..2], vpcd_conf::default_readers()[..]);
    ensure_pcscd();
    let listed = pcsc_driver::list_readers().expect("list the readers");
    let missing: Vec<&str> = readers
        .iter()
        .map(|(_, name)| name.as_str())
        .filter(|name| !listed.iter().any(|l| l == name))
        .collect();
    assert!(
        missing.is_empty(),
        "pcscd does not list {missing:?} (it lists {listed:?}): a pcscd started before \
         .ci/vpcd-readers ran must be restarted"
    );
}

#[test]
fn a_card_on_each_extra_port_answers_through_its_reader_only() {
    let readers = configured();
    ensure_pcscd();
    let extra = &readers[2..];
    let image = Arc::new(CardImage::build(&shipped_profile("valid")).expect("card image"));
    let cards: Vec<VirtualCard> = extra
        .iter()
        .map(|(port, name)| {
            let address = VpcdAddress {
                port: *port,
                ..VpcdAddress::default()
            };
            VirtualCard::attach(Card::new(Arc::clone(&image)), &address)
                .unwrap_or_else(|e| panic!("plug a card into `{name}` (port {port}): {e}"))
        })
        .collect();
    for (port, name) in extra {
        pcsc_driver::wait_for_card(name, SEEN)
            .unwrap_or_else(|e| panic!("the card on port {port} is not seen in `{name}`: {e}"));
    }
    let journals = |cards: &[VirtualCard]| -> Vec<usize> {
        cards
            .iter()
            .map(|c| c.card().lock().map(|c| c.journal().len()).unwrap_or(0))
            .collect()
    };
    for (i, (port, name)) in extra.iter().enumerate() {
        let before = journals(&cards);
        let mut channel =
            PcscChannel::connect(name, SEEN).unwrap_or_else(|e| panic!("connect to `{name}`: {e}"));
        channel
            .transmit(&GET_CHALLENGE)
            .unwrap_or_else(|e| panic!("GET CHALLENGE through `{name}`: {e}"));
        drop(channel);
        let after = journals(&cards);
        let grew: Vec<u16> = (0..cards.len())
            .filter(|&j| after[j] != before[j])
            .map(|j| extra[j].0)
            .collect();
        assert_eq!(
            grew,
            vec![*port],
            "a command through `{name}` reached the cards on ports {grew:?}, not the one on \
             {port} (reader {i} of the extra ones)"
        );
    }
}
