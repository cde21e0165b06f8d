//! In-process APDU throughput of `Card::transmit` on one core (no transport).
//!
//! Goal: at least 1,000,000 short APDUs per second, so the emulator is never the bottleneck
//! next to pcscd + vpcd (about 85 µs a round trip, docs/platform.md). Every benchmark reuses one
//! response `Vec`, as the vpcd transport does, and reports `Throughput::Elements` in APDUs.

use card_emulator::card::AID_JPKI;
use card_emulator::{Card, CardImage, CardProfile};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;

const SELECT_JPKI: [u8; 15] = [
    0x00,
    0xA4,
    0x04,
    0x0C,
    0x0A,
    AID_JPKI[0],
    AID_JPKI[1],
    AID_JPKI[2],
    AID_JPKI[3],
    AID_JPKI[4],
    AID_JPKI[5],
    AID_JPKI[6],
    AID_JPKI[7],
    AID_JPKI[8],
    AID_JPKI[9],
];
const SELECT_000A: [u8; 7] = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A];
const SELECT_0018: [u8; 7] = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18];
const EMPTY_VERIFY: [u8; 4] = [0x00, 0x20, 0x00, 0x80];
/// GET DATA, which this card does not offer: parse + dispatch + 6D00, the floor.
const UNKNOWN_INS: [u8; 5] = [0x00, 0xCA, 0x01, 0x00, 0x00];

/// READ BINARY of 0x40 bytes at `offset`.
fn read_binary_40(offset: u16) -> [u8; 5] {
    let [hi, lo] = offset.to_be_bytes();
    [0x00, 0xB0, hi, lo, 0x40]
}

fn powered_card() -> Card {
    let image = CardImage::build(&CardProfile::sample()).expect("sample card builds");
    let mut card = Card::new(Arc::new(image));
    card.reset();
    card
}

/// Sends `apdu` and checks the status word, outside the timed loop.
fn expect_ok(card: &mut Card, apdu: &[u8], out: &mut Vec<u8>, sw: [u8; 2]) {
    card.transmit(apdu, out);
    assert_eq!(out[out.len() - 2..], sw, "setup APDU failed");
}

fn apdu_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("apdu_throughput");
    let mut out = Vec::with_capacity(512);

    // (a) SELECT EF 000A + READ BINARY 0x40 bytes, walking through the certificate.
    {
        let mut card = powered_card();
        expect_ok(&mut card, &SELECT_JPKI, &mut out, [0x90, 0x00]);
        let cert_len = card.image().auth_certificate.len() as u16;
        let reads: Vec<[u8; 5]> = (0..cert_len / 0x40)
            .map(|chunk| read_binary_40(chunk * 0x40))
            .collect();
        for read in &reads {
            expect_ok(&mut card, &SELECT_000A, &mut out, [0x90, 0x00]);
            expect_ok(&mut card, read, &mut out, [0x90, 0x00]);
            assert_eq!(out.len(), 0x40 + 2);
        }
        let mut next = 0;
        group.throughput(Throughput::Elements(2));
        group.bench_function("select_ef_and_read_binary_0x40", |b| {
            b.iter(|| {
                card.transmit(black_box(&SELECT_000A), &mut out);
                card.transmit(black_box(&reads[next]), &mut out);
                next = (next + 1) % reads.len();
                black_box(out.len())
            })
        });
    }

    // (b) Empty VERIFY on the authentication PIN (reports tries, spends none).
    {
        let mut card = powered_card();
        expect_ok(&mut card, &SELECT_JPKI, &mut out, [0x90, 0x00]);
        expect_ok(&mut card, &SELECT_0018, &mut out, [0x90, 0x00]);
        expect_ok(&mut card, &EMPTY_VERIFY, &mut out, [0x63, 0xC3]);
        group.throughput(Throughput::Elements(1));
        group.bench_function("empty_verify", |b| {
            b.iter(|| {
                card.transmit(black_box(&EMPTY_VERIFY), &mut out);
                black_box(out.len())
            })
        });
    }

    // (c) An unknown instruction: the dispatch floor.
    {
        let mut card = powered_card();
        expect_ok(&mut card, &UNKNOWN_INS, &mut out, [0x6D, 0x00]);
        group.throughput(Throughput::Elements(1));
        group.bench_function("unknown_ins", |b| {
            b.iter(|| {
                card.transmit(black_box(&UNKNOWN_INS), &mut out);
                black_box(out.len())
            })
        });
    }

    group.finish();
}

criterion_group!(benches, apdu_throughput);
criterion_main!(benches);
