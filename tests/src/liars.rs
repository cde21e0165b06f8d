//! A corpus of devices under test that lie, leak and stall, for the tests that hold the
//! harness to "verdicts rest on what the bench saw". Each liar but one is a line proxy in
//! front of the honest reference device `myna-dut-ref` that twists what the device says
//! (the card and the service still see the honest device's work, so only the claim is
//! false); [`Liar::Fake`] is a device of its own that never touches the card or the
//! service and claims a PIN path anyway, and [`Liar::BlindFace`] one that also claims a
//! face path: a non-match without ever reading the chip's photo.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a device misbehaves.
#[derive(Clone, Debug)]
pub enum Liar {
    /// Claims the whole PIN path (VERIFY 9000, qualification, outcome) without touching the
    /// card or the service.
    Fake,
    /// [`Liar::Fake`] with a camera: takes every clip, and on the face path reports a try and
    /// `no_match` without touching the card (no 照合番号B, no chip photo), then the PIN path.
    BlindFace,
    /// Adds a note with this text after the patient's keys are pressed (a PIN, a 個人番号).
    Leaky(String),
    /// Reports every VERIFY as `9000`, also a wrong PIN's.
    Verify9000,
    /// Shows 3 tries left on every PIN pad, whatever the card said.
    TriesLiar,
    /// Shows the pad unshuffled (0-9 in order).
    UnshuffledPad,
    /// Shows a pad that is not a permutation of 0-9.
    NotAPermutation,
    /// Sends `at_ms` that go back.
    BackwardsTime,
    /// Instead of answering `card_present`, sends a note every millisecond.
    Flood,
    /// After the first `case_start`, sends every line one byte at a time, `gap` apart.
    Drip(Duration),
    /// After each `reset` is done, sends two more events (a result screen, an outcome).
    Stale,
    /// Reports a co-payment share of 10 %.
    WrongShare,
    /// Claims a person answered a prompt that was never asked (`operator_answer` after the
    /// patient's keys), with this answer.
    UnaskedAnswer(String),
}

/// Starts `liar` listening on a free loopback port; `upstream` is the honest device the
/// proxies twist (unused by [`Liar::Fake`]). Returns the address for `dut:tcp:`.
pub fn start(liar: Liar, upstream: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the liar");
    let addr = listener.local_addr().expect("address").to_string();
    let upstream = upstream.to_owned();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(harness) = conn else { return };
            let liar = liar.clone();
            match liar {
                Liar::Fake => {
                    std::thread::spawn(move || fake_session(harness, false));
                }
                Liar::BlindFace => {
                    std::thread::spawn(move || fake_session(harness, true));
                }
                _ => {
                    let Ok(device) = TcpStream::connect(&upstream) else {
                        return;
                    };
                    proxy_session(harness, device, liar);
                }
            }
        }
    });
    addr
}

/// What the harness asked for, by stimulus id (to know which `done` answers what).
type Asked = Arc<Mutex<HashMap<u64, String>>>;

fn proxy_session(harness: TcpStream, device: TcpStream, liar: Liar) {
    let asked: Asked = Arc::default();
    let _ = harness.set_nodelay(true);
    let to_harness = Arc::new(Mutex::new(harness.try_clone().expect("clone")));
    let mut to_device = device.try_clone().expect("clone");
    let started = Arc::new(Mutex::new(false));
    // Harness → device, unchanged; remembers what each id asked for.
    {
        let asked = asked.clone();
        let started = started.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(harness).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if let (Some(id), Some(kind)) = (v["id"].as_u64(), v["type"].as_str()) {
                        asked.lock().unwrap().insert(id, kind.to_owned());
                        if kind == "case_start" {
                            *started.lock().unwrap() = true;
                        }
                    }
                }
                if to_device.write_all(format!("{line}\n").as_bytes()).is_err() {
                    break;
                }
            }
            let _ = to_device.shutdown(Shutdown::Both);
        });
    }
    // Device → harness, twisted.
    std::thread::spawn(move || {
        let mut twist = Twist {
            liar,
            asked,
            at: 100_000.0,
        };
        for line in BufReader::new(device).lines() {
            let Ok(line) = line else { break };
            let out = twist.lines(&line);
            let drip = match twist.liar {
                Liar::Drip(gap) if *started.lock().unwrap() => Some(gap),
                _ => None,
            };
            if let Liar::Flood = twist.liar {
                if out.is_empty() {
                    flood(&to_harness);
                    break;
                }
            }
            let mut harness = to_harness.lock().unwrap();
            // The twisted lines of one honest line leave in one write, as a device that
            // writes them together would send them.
            let bytes: Vec<u8> = out
                .iter()
                .flat_map(|l| format!("{l}\n").into_bytes())
                .collect();
            let sent = match drip {
                Some(gap) => bytes.iter().try_for_each(|b| {
                    std::thread::sleep(gap);
                    harness.write_all(&[*b])
                }),
                None => harness.write_all(&bytes),
            };
            if sent.is_err() {
                break;
            }
        }
        let _ = to_harness.lock().unwrap().shutdown(Shutdown::Both);
    });
}

/// A note every millisecond until the harness hangs up.
fn flood(to_harness: &Mutex<TcpStream>) {
    // Later than anything the device said before: the flood is only a flood.
    let mut at = 1e7;
    loop {
        at += 1.0;
        let note = json!({"type": "note", "at_ms": at, "text": "busy"});
        if to_harness
            .lock()
            .unwrap()
            .write_all(format!("{note}\n").as_bytes())
            .is_err()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

struct Twist {
    liar: Liar,
    asked: Asked,
    /// The backwards clock of [`Liar::BackwardsTime`].
    at: f64,
}

impl Twist {
    /// The lines to send the harness for one line of the honest device (empty, with
    /// [`Liar::Flood`]: start flooding instead).
    fn lines(&mut self, line: &str) -> Vec<String> {
        let Ok(mut v) = serde_json::from_str::<Value>(line) else {
            return vec![line.to_owned()];
        };
        let kind = v["type"].as_str().unwrap_or_default().to_owned();
        let answers = v["id"]
            .as_u64()
            .and_then(|id| self.asked.lock().unwrap().get(&id).cloned());
        let mut extra = Vec::new();
        match (&self.liar, kind.as_str()) {
            (Liar::Verify9000, "verify_answered") => v["sw"] = json!("9000"),
            (Liar::TriesLiar, "keypad_layout") => v["tries_left"] = json!(3),
            (Liar::UnshuffledPad, "keypad_layout") => {
                v["digits"] = json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
            }
            (Liar::NotAPermutation, "keypad_layout") => {
                v["digits"] = json!([1, 1, 2, 3, 4, 5, 6, 7, 8, 9])
            }
            (Liar::WrongShare, "outcome") => v["share_percent"] = json!(10),
            (Liar::Leaky(text), "keys_pressed") => {
                extra.push(json!({"type": "note", "at_ms": v["at_ms"], "text": text}));
            }
            (Liar::UnaskedAnswer(answer), "keys_pressed") => {
                extra.push(json!({"type": "operator_answer", "at_ms": v["at_ms"],
                    "prompt": "card-on-reader", "answer": answer}));
            }
            (Liar::BackwardsTime, _) if v.get("at_ms").is_some() => {
                self.at -= 10.0;
                v["at_ms"] = json!(self.at.max(0.0));
            }
            (Liar::Flood, "done") if answers.as_deref() == Some("card_present") => {
                return Vec::new()
            }
            (Liar::Stale, "done") if answers.as_deref() == Some("reset") => {
                extra.push(json!({"type": "screen", "at_ms": 1e6, "name": "result"}));
                extra.push(json!({"type": "outcome", "at_ms": 1e6, "route": "card_pin",
                    "share_percent": 30, "limit_applied": true, "qualification_data_only": false}));
            }
            _ => {}
        }
        std::iter::once(v)
            .chain(extra)
            .map(|v| v.to_string())
            .collect()
    }
}

/// The fake device: a complete-looking PIN path, no card, no service; `face`: a camera too,
/// and a face path that rejects without looking at the chip.
fn fake_session(harness: TcpStream, face: bool) {
    let mut out = harness.try_clone().expect("clone");
    let t0 = Instant::now();
    let mut send = |v: Value| out.write_all(format!("{v}\n").as_bytes()).is_ok();
    let at = || t0.elapsed().as_secs_f64() * 1000.0;
    let mut shuffle = 7u64;
    for line in BufReader::new(harness).lines() {
        let Ok(line) = line else { return };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let id = v["id"].clone();
        let mut events: Vec<Value> = Vec::new();
        match v["type"].as_str().unwrap_or_default() {
            "hello" => {
                let capabilities = if face {
                    json!(["pin", "face", "camera_clips", "consent"])
                } else {
                    json!(["pin", "consent", "registration"])
                };
                send(
                    json!({"type": "hello", "protocol": "myna-hil-dut", "version": 1,
                    "vendor": "Liars K.K.", "model": "fake", "firmware": "0",
                    "capabilities": capabilities}),
                );
                continue;
            }
            // Every clip is already held: nothing needs to cross the link.
            "clip_offer" => {
                send(json!({"type": "clip_have", "id": id, "offset": v["size"]}));
                continue;
            }
            "card_present" => {
                events.push(json!({"type": "screen", "name": "reading_card"}));
                events.push(json!({"type": "screen", "name": "choose_method"}));
            }
            "choose_method" => {
                if v["method"] == "face" {
                    events.push(json!({"type": "screen", "name": "face_auth"}));
                    events.push(json!({"type": "screen", "name": "face_camera"}));
                    events.push(json!({"type": "face_attempt", "attempt": 1, "frames": 16,
                        "best_score": 0.1, "matched": false, "presentation": "bona fide"}));
                    events.push(json!({"type": "face_result", "result": "no_match",
                        "consecutive_failures": 1}));
                    events.push(json!({"type": "screen", "name": "face_failed"}));
                }
                // A different shuffle each time: the pad is not what gives the fake away.
                shuffle = shuffle.wrapping_mul(6364136223846793005).wrapping_add(1);
                let mut digits: Vec<u64> = (0..10).collect();
                digits.rotate_left((shuffle >> 33) as usize % 9 + 1);
                digits.swap(0, (shuffle >> 40) as usize % 10);
                events.push(json!({"type": "screen", "name": "pin_entry"}));
                events.push(json!({"type": "keypad_layout", "digits": digits, "tries_left": 3}));
            }
            "pin_keys" => {
                let count = v["positions"].as_array().map_or(0, Vec::len);
                events.push(json!({"type": "keys_pressed", "count": count}));
                events.push(json!({"type": "verify_answered", "sw": "9000"}));
                events.push(json!({"type": "screen", "name": "querying"}));
                events.push(json!({"type": "qualification", "summary": "segment Ok"}));
                events.push(json!({"type": "screen", "name": "consent"}));
            }
            "consent" => {
                events.push(json!({"type": "card_path", "ok": true}));
                events.push(json!({"type": "screen", "name": "result"}));
                events.push(
                    json!({"type": "outcome", "route": "card_pin", "share_percent": 30,
                    "limit_applied": true, "qualification_data_only": false}),
                );
            }
            _ => {}
        }
        for mut e in events {
            e["at_ms"] = json!(at());
            if !send(e) {
                return;
            }
        }
        if !send(json!({"type": "done", "id": id})) {
            return;
        }
    }
}
