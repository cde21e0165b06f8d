//! OpenSC interoperability: the real, unmodified OpenSC command-line tools (Debian 12
//! `opensc` 0.23) and `pcsc_scan`, run as subprocesses against emulated cards in the real
//! pcscd + vpcd, as any third-party PC/SC client would see them.
//!
//! OpenSC looks at every reader of pcscd, so each test holds both vpcd reader slots for its
//! whole duration. Every tool runs under `timeout`, with HOME pointing into a fresh temp
//! folder and without OPENSC_CONF / OPENSC_DEBUG, so user configuration cannot change what
//! it does. What OpenSC does with each shipped profile, and why: docs/opensc-interop.md.

use card_emulator::vpcd::{VirtualCard, VpcdAddress};
use card_emulator::{Card, CardImage, CardProfile, PinRef};
use harness::channel::pcsc_driver::{wait_for_card, wait_for_removal};
use myna_hil_tests::{all_reader_slots, shipped_profile, ReaderSlot, PORTS, READERS};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// OpenSC's PKCS#11 module as Debian 12 installs it.
const PKCS11_MODULE: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
/// The reader the card goes into (OpenSC selects readers by name or index).
const READER: &str = READERS[0];
/// The My Number Card's contact ATR, as `pcsc_scan` prints it.
const ATR_TEXT: &str = "3B E0 00 FF 81 31 FE 45 14";
/// Per tool run; OpenSC needs well under a second here.
const TOOL_TIMEOUT_S: u32 = 30;
/// pcscd notices an insertion or removal at its 400 ms poll.
const INSERT_TIMEOUT: Duration = Duration::from_secs(3);
/// After a removal, pcscd must poll once more before a new card is noticed.
const REINSERT_GAP: Duration = Duration::from_millis(450);

/// Profiles whose PINs are set and usable: to OpenSC they are all the same card (it checks
/// neither validity dates nor revocation, nor the card-surface and insurance data).
const USABLE_PIN_PROFILES: [&str; 5] = [
    "cert-expired-in-grace",
    "cert-expired-beyond-grace",
    "photo-mismatch",
    "cert-revoked",
    "not-registered",
];

// ---------------------------------------------------------------------------------------
// Running a tool

/// What one tool run printed, kept for assertions and failure messages.
struct ToolRun {
    command: String,
    /// Exit code; `None` when killed by a signal.
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl ToolRun {
    fn succeeded(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the whole run when the tool failed; returns its stdout.
    fn expect_success(&self) -> &str {
        assert!(self.succeeded(), "expected success:\n{self}");
        &self.stdout
    }

    /// Panics with the whole run when the tool succeeded; returns stdout and stderr.
    fn expect_failure(&self) -> String {
        assert!(
            !self.succeeded() && self.code != Some(124),
            "expected the tool to fail (not time out):\n{self}"
        );
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Panics unless stdout contains every one of `needles`.
    fn expect_stdout_has(&self, needles: &[&str]) -> &Self {
        for needle in needles {
            assert!(
                self.stdout.contains(needle),
                "stdout lacks {needle:?}:\n{self}"
            );
        }
        self
    }
}

impl fmt::Display for ToolRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = match self.code {
            Some(124) => format!("124 (killed: no answer within {TOOL_TIMEOUT_S} s)"),
            Some(127) => {
                "127 (tool not found: run .ci/setup, which installs opensc and pcsc-tools)"
                    .to_owned()
            }
            Some(c) => c.to_string(),
            None => "killed by a signal".to_owned(),
        };
        write!(
            f,
            "$ {}\nexit {code} after {:.2} s\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.elapsed.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `program args…` under `timeout`, in `dir`, with HOME = `dir/home` and without the
/// OpenSC variables that would bring in another configuration or debug output.
fn run_tool(dir: &Path, program: &str, args: &[&str]) -> ToolRun {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("create the tools' HOME");
    let command = format!("{program} {}", args.join(" "));
    let start = Instant::now();
    let output = Command::new("timeout")
        .arg("--kill-after=5")
        .arg(TOOL_TIMEOUT_S.to_string())
        .arg(program)
        .args(args)
        .current_dir(dir)
        .env("HOME", &home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("OPENSC_CONF")
        .env_remove("OPENSC_DEBUG")
        .env_remove("OPENSC_DRIVER")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `timeout {command}`: {e}"));
    ToolRun {
        command,
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

// ---------------------------------------------------------------------------------------
// A card in the first reader, both readers held

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A shipped profile's card in "Virtual PCD 00 00" while both reader slots are held, with
/// a private working folder. Dropping it takes the card out and waits until pcscd has
/// seen that (and its next poll) before the slots are released.
struct CardUnderOpenSc {
    profile: CardProfile,
    image: Arc<CardImage>,
    virtual_card: Option<VirtualCard>,
    dir: PathBuf,
    // Last: released only after `drop` has taken the card out.
    _slots: [ReaderSlot; 2],
}

impl CardUnderOpenSc {
    fn insert(name: &str) -> Self {
        assert!(
            Path::new(PKCS11_MODULE).exists(),
            "{PKCS11_MODULE} is missing: run .ci/setup (apt package opensc)"
        );
        let slots = all_reader_slots();
        let profile = shipped_profile(name);
        let image = Arc::new(CardImage::build(&profile).unwrap_or_else(|e| panic!("{name}: {e}")));
        let address = VpcdAddress {
            host: "127.0.0.1".into(),
            port: PORTS[0],
        };
        let virtual_card = VirtualCard::attach(Card::new(Arc::clone(&image)), &address)
            .unwrap_or_else(|e| {
                panic!(
                    "cannot attach {name} to vpcd on port {}: {e} (pcscd gone? readers now: {:?})",
                    PORTS[0],
                    harness::channel::pcsc_driver::list_readers()
                )
            });
        wait_for_card(READER, INSERT_TIMEOUT)
            .unwrap_or_else(|e| panic!("pcscd did not see {name} in {READER}: {e}"));
        // Made last, so that a failed insertion leaves nothing behind; `drop` removes it.
        let dir = std::env::temp_dir().join(format!(
            "myna-hil-opensc-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the working folder");
        CardUnderOpenSc {
            profile,
            image,
            virtual_card: Some(virtual_card),
            dir,
            _slots: slots,
        }
    }

    fn name(&self) -> &str {
        &self.profile.name
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn run(&self, program: &str, args: &[&str]) -> ToolRun {
        run_tool(&self.dir, program, args)
    }

    /// `opensc-tool --reader "Virtual PCD 00 00" args…`
    fn opensc_tool(&self, args: &[&str]) -> ToolRun {
        self.run("opensc-tool", &[&["--reader", READER], args].concat())
    }

    /// `pkcs15-tool --reader "Virtual PCD 00 00" args…`
    fn pkcs15_tool(&self, args: &[&str]) -> ToolRun {
        self.run("pkcs15-tool", &[&["--reader", READER], args].concat())
    }

    /// `pkcs11-tool --module opensc-pkcs11.so args…`
    fn pkcs11_tool(&self, args: &[&str]) -> ToolRun {
        self.run(
            "pkcs11-tool",
            &[&["--module", PKCS11_MODULE], args].concat(),
        )
    }

    /// The PKCS#11 slots OpenSC offers (`pkcs11-tool -L`).
    fn slots(&self) -> Vec<Pkcs11Slot> {
        let run = self.pkcs11_tool(&["--list-slots"]);
        parse_slots(run.expect_success())
    }

    /// The slot of our reader whose token carries `pin_label` (OpenSC makes one token per
    /// PIN: "JPKI (User Authentication PIN)" and "JPKI (Digital Signature PIN)").
    fn slot_for(&self, pin_label: &str) -> Pkcs11Slot {
        let slots = self.slots();
        let wanted = format!("JPKI ({pin_label})");
        slots
            .iter()
            .find(|s| s.reader == READER && s.token_label.as_deref() == Some(wanted.as_str()))
            .cloned()
            .unwrap_or_else(|| {
                panic!(
                    "{}: no slot {wanted:?} in {READER}: {slots:#?}",
                    self.name()
                )
            })
    }

    /// Signs `DATA` with the key `key_id` behind `pin_label` through PKCS#11 (logging in
    /// with `pin`); the run and the signature file.
    fn pkcs11_sign(&self, pin_label: &str, pin: &str, key_id: &str) -> (ToolRun, PathBuf) {
        let slot = self.slot_for(pin_label);
        let data = self.path("data.txt");
        std::fs::write(&data, DATA).expect("write the data to sign");
        let signature = self.path(&format!("signature-{key_id}.bin"));
        let _ = std::fs::remove_file(&signature);
        let run = self.pkcs11_tool(&[
            "--slot",
            &slot.id,
            "--login",
            "--pin",
            pin,
            "--sign",
            "--mechanism",
            "SHA256-RSA-PKCS",
            "--id",
            key_id,
            "--input-file",
            path_str(&data),
            "--output-file",
            path_str(&signature),
        ]);
        (run, signature)
    }

    /// The PEM certificate `pkcs15-tool --read-certificate id [extra…]` prints, as DER.
    fn read_certificate(&self, id: &str, extra: &[&str]) -> Vec<u8> {
        let run = self.pkcs15_tool(&[&["--read-certificate", id], extra].concat());
        let pem = run.expect_success();
        X509::from_pem(pem.as_bytes())
            .and_then(|c| c.to_der())
            .unwrap_or_else(|e| panic!("not a PEM certificate ({e}):\n{run}"))
    }

    fn tries_left(&self, pin: PinRef) -> u8 {
        self.card().tries_left(pin)
    }

    fn is_verified(&self, pin: PinRef) -> bool {
        self.card().is_verified(pin)
    }

    fn card(&self) -> std::sync::MutexGuard<'_, Card> {
        self.virtual_card
            .as_ref()
            .expect("card inserted")
            .card()
            .lock()
            .expect("card state")
    }

    fn auth_pin(&self) -> &str {
        pin_value(
            self.profile.auth_pin.as_ref(),
            self.name(),
            "authentication PIN",
        )
    }

    fn sign_password(&self) -> &str {
        pin_value(
            self.profile.sign_password.as_ref(),
            self.name(),
            "signature password",
        )
    }

    /// OpenSC's "Encoded serial" of the authentication certificate: DER INTEGER bytes.
    fn auth_serial_text(&self) -> String {
        let cert = X509::from_der(&self.image.auth_certificate).expect("auth certificate");
        let mut value = cert.serial_number().to_bn().expect("serial").to_vec();
        if value.first().is_none_or(|b| b & 0x80 != 0) {
            value.insert(0, 0);
        }
        let hex: String = value.iter().map(|b| format!("{b:02X}")).collect();
        format!("Encoded serial : 02 {:02X} {hex}", value.len())
    }
}

impl Drop for CardUnderOpenSc {
    fn drop(&mut self) {
        if let Some(card) = self.virtual_card.take() {
            drop(card);
            let _ = wait_for_removal(READER, INSERT_TIMEOUT);
            std::thread::sleep(REINSERT_GAP);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pin_value<'a>(
    setting: Option<&'a card_emulator::profile::PinSetting>,
    profile: &str,
    what: &str,
) -> &'a str {
    setting
        .map(|s| s.value.expose())
        .unwrap_or_else(|| panic!("{profile} has no {what}"))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// What gets signed.
const DATA: &[u8] = b"myna-hil: data signed through unmodified OpenSC\n";

/// Panics unless `signature` is a valid RSA PKCS#1 v1.5 SHA-256 signature of `DATA` by the
/// key of `certificate_der`.
fn assert_signature_verifies(certificate_der: &[u8], signature: &Path, run: &ToolRun) {
    let signature =
        std::fs::read(signature).unwrap_or_else(|e| panic!("no signature file ({e}):\n{run}"));
    assert_eq!(signature.len(), 256, "an RSA-2048 signature:\n{run}");
    let key = X509::from_der(certificate_der)
        .and_then(|c| c.public_key())
        .expect("certificate public key");
    let mut verifier = Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
    verifier.update(DATA).expect("hash the data");
    assert!(
        verifier.verify(&signature).unwrap_or(false),
        "openssl rejects the signature pkcs11-tool made:\n{run}"
    );
}

/// One slot of `pkcs11-tool -L`.
#[derive(Clone, Debug)]
struct Pkcs11Slot {
    /// The slot ID as printed, e.g. `0x0` (what `--slot` takes).
    id: String,
    reader: String,
    token_label: Option<String>,
    token_flags: String,
}

/// Parses `Slot 0 (0x0): Virtual PCD 00 00` lines and the token lines under them.
fn parse_slots(listing: &str) -> Vec<Pkcs11Slot> {
    let mut slots: Vec<Pkcs11Slot> = Vec::new();
    for line in listing.lines() {
        if let Some(rest) = line.strip_prefix("Slot ") {
            let (Some(open), Some(close)) = (rest.find('('), rest.find("):")) else {
                continue;
            };
            slots.push(Pkcs11Slot {
                id: rest[open + 1..close].to_owned(),
                reader: rest[close + 2..].trim().to_owned(),
                token_label: None,
                token_flags: String::new(),
            });
        } else if let (Some(slot), Some((key, value))) = (slots.last_mut(), line.split_once(':')) {
            match key.trim() {
                "token label" => slot.token_label = Some(value.trim().to_owned()),
                "token flags" => slot.token_flags = value.trim().to_owned(),
                _ => {}
            }
        }
    }
    slots
}

/// The "Tries left" OpenSC reports for each PIN, in `--list-pins` order
/// (authentication PIN, then signature password).
fn tries_listed(pins: &ToolRun) -> Vec<u8> {
    pins.stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Tries left"))
        .filter_map(|v| v.trim_start_matches([' ', ':']).trim().parse().ok())
        .collect()
}

const AUTH_PIN_LABEL: &str = "User Authentication PIN";
const SIGN_PIN_LABEL: &str = "Digital Signature PIN";

// ---------------------------------------------------------------------------------------
// The valid card

#[test]
fn opensc_tool_names_the_card_jpki_and_reads_its_atr() {
    let card = CardUnderOpenSc::insert("valid");
    let name = card.opensc_tool(&["--name"]);
    assert_eq!(name.expect_success().trim(), "jpki", "{name}");
    let atr = card.opensc_tool(&["--atr"]);
    assert_eq!(
        atr.expect_success().trim(),
        "3b:e0:00:ff:81:31:fe:45:14",
        "{atr}"
    );
    // The second reader is empty: OpenSC does not invent a card there.
    let other = card.run("opensc-tool", &["--reader", READERS[1], "--name"]);
    assert!(
        other.expect_failure().contains("Card not present"),
        "{other}"
    );
}

#[test]
fn pcsc_scan_lists_the_reader_and_opensc_tool_reads_the_my_number_card_atr() {
    let card = CardUnderOpenSc::insert("valid");
    // -r: list the readers and exit. (`pcsc_scan -c` watches every reader and pcscd's
    // plug-and-play state at once, 17 states with 16 vpcd readers, which pcsc-lite refuses:
    // docs/platform.md, "Sixteen vpcd readers".)
    let scan = card.run("pcsc_scan", &["-r"]);
    assert!(scan.expect_success().contains(READER), "{scan}");
    let atr = card.opensc_tool(&["--atr"]);
    let printed = atr.expect_success().to_uppercase().replace(':', " ");
    assert!(printed.contains(ATR_TEXT), "{atr}");
}

#[test]
fn pkcs15_tool_lists_the_authentication_certificate_the_ca_certificates_and_both_pins() {
    let card = CardUnderOpenSc::insert("valid");
    let serial = card.auth_serial_text();
    card.pkcs15_tool(&["--list-certificates"])
        .expect_stdout_has(&[
            "X.509 Certificate [User Authentication Certificate]",
            "Path           : 000a",
            &serial,
            // Private (needs the signature password): listed, never read.
            "X.509 Certificate [Digital Signature Certificate]",
            "Path           : 0001",
            "X.509 Certificate [User Authentication Certificate CA]",
            "Path           : 000b",
            "X.509 Certificate [Digital Signature Certificate CA]",
            "Path           : 0002",
        ]);
    let dump = card.pkcs15_tool(&["--dump"]);
    dump.expect_stdout_has(&[
        "PKCS#15 Card [JPKI]:",
        "PIN [User Authentication PIN]",
        "PIN [Digital Signature PIN]",
        "Private RSA Key [User Authentication Key]",
        "Private RSA Key [Digital Signature Key]",
        "ModLength      : 2048",
    ]);
    assert_eq!(tries_listed(&dump), [3, 5], "{dump}");
    assert_eq!(card.tries_left(PinRef::AuthPin), 3);
}

#[test]
fn pkcs15_tool_reads_the_certificates_the_card_holds_byte_for_byte() {
    let card = CardUnderOpenSc::insert("valid");
    assert_eq!(
        card.read_certificate("01", &[]),
        card.image.auth_certificate
    );
    assert_eq!(card.read_certificate("03", &[]), card.image.ca_certificate);
    assert_eq!(card.read_certificate("04", &[]), card.image.ca_certificate);
}

#[test]
fn pkcs11_tool_signs_with_the_authentication_key_and_openssl_verifies_it() {
    let card = CardUnderOpenSc::insert("valid");
    let slots = card.slots();
    assert_eq!(
        slots.iter().filter(|s| s.reader == READER).count(),
        2,
        "one token per PIN: {slots:#?}"
    );
    let (run, signature) = card.pkcs11_sign(AUTH_PIN_LABEL, card.auth_pin(), "01");
    run.expect_success();
    assert_signature_verifies(&card.image.auth_certificate, &signature, &run);
    // The card is not harmed: the PIN keeps all its tries, the password was never tried.
    assert_eq!(card.tries_left(PinRef::AuthPin), 3);
    assert_eq!(card.tries_left(PinRef::SignPassword), 5);
    // OpenSC leaves the card as it is when it exits (no reset): the PIN stays verified
    // until the next SELECT of the JPKI AP, which every OpenSC process starts with.
    assert!(card.is_verified(PinRef::AuthPin));
    let pins = card.pkcs15_tool(&["--list-pins"]);
    assert_eq!(tries_listed(&pins), [3, 5], "{pins}");
    assert!(
        !card.is_verified(PinRef::AuthPin),
        "bind re-selects the JPKI AP"
    );
}

#[test]
fn pkcs11_tool_signs_with_the_signature_key_after_the_signature_password() {
    let card = CardUnderOpenSc::insert("valid");
    let (run, signature) = card.pkcs11_sign(SIGN_PIN_LABEL, card.sign_password(), "02");
    run.expect_success();
    // The signature certificate (0001) is private: read it with the password.
    let sign_certificate = card.read_certificate(
        "02",
        &[
            "--verify-pin",
            "--auth-id",
            "02",
            "--pin",
            card.sign_password(),
        ],
    );
    assert_eq!(sign_certificate, card.image.sign_certificate);
    assert_signature_verifies(&sign_certificate, &signature, &run);
    assert_eq!(card.tries_left(PinRef::AuthPin), 3);
    assert_eq!(card.tries_left(PinRef::SignPassword), 5);
}

#[test]
fn a_wrong_pin_costs_one_try_which_the_right_pin_gives_back() {
    let card = CardUnderOpenSc::insert("valid");
    let (wrong, _) = card.pkcs11_sign(AUTH_PIN_LABEL, "9999", "01");
    assert!(
        wrong.expect_failure().contains("CKR_PIN_INCORRECT"),
        "{wrong}"
    );
    assert_eq!(card.tries_left(PinRef::AuthPin), 2);
    let slot = card.slot_for(AUTH_PIN_LABEL);
    assert!(slot.token_flags.contains("user PIN count low"), "{slot:?}");
    let pins = card.pkcs15_tool(&["--list-pins"]);
    assert_eq!(tries_listed(&pins), [2, 5], "{pins}");

    let (right, signature) = card.pkcs11_sign(AUTH_PIN_LABEL, card.auth_pin(), "01");
    right.expect_success();
    assert_signature_verifies(&card.image.auth_certificate, &signature, &right);
    assert_eq!(card.tries_left(PinRef::AuthPin), 3);
}

// ---------------------------------------------------------------------------------------
// The other shipped profiles

#[test]
fn opensc_signs_alike_with_expired_revoked_unregistered_and_photo_mismatch_cards() {
    // OpenSC checks neither dates nor revocation: that is the relying party's job.
    for name in USABLE_PIN_PROFILES {
        let card = CardUnderOpenSc::insert(name);
        let name_run = card.opensc_tool(&["--name"]);
        assert_eq!(
            name_run.expect_success().trim(),
            "jpki",
            "{name}: {name_run}"
        );
        card.pkcs15_tool(&["--list-certificates"])
            .expect_stdout_has(&[
                "[User Authentication Certificate]",
                &card.auth_serial_text(),
            ]);
        assert_eq!(
            card.read_certificate("01", &[]),
            card.image.auth_certificate,
            "{name}"
        );
        let (run, signature) = card.pkcs11_sign(AUTH_PIN_LABEL, card.auth_pin(), "01");
        run.expect_success();
        assert_signature_verifies(&card.image.auth_certificate, &signature, &run);
        assert_eq!(card.tries_left(PinRef::AuthPin), 3, "{name}");
    }
}

#[test]
fn locked_auth_pin_binds_shows_no_tries_and_login_fails_without_touching_the_card() {
    let card = CardUnderOpenSc::insert("auth-pin-locked");
    // Bind still works: the empty VERIFY answers 63C0 (SW1 = 63 is all OpenSC asks).
    let name = card.opensc_tool(&["--name"]);
    assert_eq!(name.expect_success().trim(), "jpki", "{name}");
    let pins = card.pkcs15_tool(&["--list-pins"]);
    assert_eq!(tries_listed(&pins), [0, 5], "{pins}");
    let auth_slot = card.slot_for(AUTH_PIN_LABEL);
    assert!(
        auth_slot.token_flags.contains("user PIN locked"),
        "{auth_slot:?}"
    );
    let sign_slot = card.slot_for(SIGN_PIN_LABEL);
    assert!(!sign_slot.token_flags.contains("locked"), "{sign_slot:?}");
    // The public certificate stays readable.
    assert_eq!(
        card.read_certificate("01", &[]),
        card.image.auth_certificate
    );

    // Even the right PIN: VERIFY answers 6984, which OpenSC 0.23 reports as "Reference data
    // not usable" and PKCS#11 as CKR_GENERAL_ERROR (only 6983 maps to CKR_PIN_LOCKED).
    let (login, signature) = card.pkcs11_sign(AUTH_PIN_LABEL, card.auth_pin(), "01");
    let out = login.expect_failure();
    assert!(
        out.contains("C_Login failed") && out.contains("CKR_GENERAL_ERROR"),
        "{login}"
    );
    assert!(!signature.exists());
    let verify = card.pkcs15_tool(&["--verify-pin", "--auth-id", "01", "--pin", card.auth_pin()]);
    assert!(
        verify
            .expect_failure()
            .contains("Reference data not usable"),
        "{verify}"
    );
    assert_eq!(card.tries_left(PinRef::AuthPin), 0);
    assert!(!card.is_verified(PinRef::AuthPin));
    assert_eq!(card.tries_left(PinRef::SignPassword), 5);
}

#[test]
fn face_auth_card_binds_with_both_pins_blocked_so_only_its_certificates_are_usable() {
    let card = CardUnderOpenSc::insert("face-auth-card");
    let name = card.opensc_tool(&["--name"]);
    assert_eq!(name.expect_success().trim(), "jpki", "{name}");
    // No PIN set: the empty VERIFY answers 63C0 for both, as for a blocked PIN.
    let pins = card.pkcs15_tool(&["--list-pins"]);
    assert_eq!(tries_listed(&pins), [0, 0], "{pins}");
    for label in [AUTH_PIN_LABEL, SIGN_PIN_LABEL] {
        let slot = card.slot_for(label);
        assert!(slot.token_flags.contains("user PIN locked"), "{slot:?}");
    }
    // The authentication certificate and the CA certificates are public and readable.
    // OpenSC's JPKI emulation lists the signature certificate regardless (it is private,
    // so OpenSC never looks for it; on this card EF 0001 does not exist).
    card.pkcs15_tool(&["--list-certificates"])
        .expect_stdout_has(&[
            "[User Authentication Certificate]",
            &card.auth_serial_text(),
            "[Digital Signature Certificate]",
            "[User Authentication Certificate CA]",
        ]);
    assert_eq!(
        card.read_certificate("01", &[]),
        card.image.auth_certificate
    );
    // Any PIN: VERIFY answers 6984, login fails, nothing changes.
    let (login, _) = card.pkcs11_sign(AUTH_PIN_LABEL, "1234", "01");
    let out = login.expect_failure();
    assert!(
        out.contains("C_Login failed") && out.contains("CKR_GENERAL_ERROR"),
        "{login}"
    );
    assert_eq!(card.tries_left(PinRef::AuthPin), 0);
    assert!(!card.is_verified(PinRef::AuthPin));
}

#[test]
fn smartphone_token_hides_the_authentication_certificate_until_the_pin_is_verified() {
    let card = CardUnderOpenSc::insert("smartphone");
    let name = card.opensc_tool(&["--name"]);
    assert_eq!(name.expect_success().trim(), "jpki", "{name}");
    // 000A answers 6982 before the PIN: listed without a serial, not readable.
    let listing = card.pkcs15_tool(&["--list-certificates"]);
    listing.expect_stdout_has(&[
        "[User Authentication Certificate]",
        "[User Authentication Certificate CA]",
    ]);
    assert!(
        !listing.stdout.contains(&card.auth_serial_text()),
        "{listing}"
    );
    let read = card.pkcs15_tool(&["--read-certificate", "01"]);
    assert!(
        read.expect_failure().contains("Certificate read failed"),
        "{read}"
    );
    // pkcs15-tool can verify the PIN first; then the same READ BINARY works.
    let after_pin = card.read_certificate(
        "01",
        &["--verify-pin", "--auth-id", "01", "--pin", card.auth_pin()],
    );
    assert_eq!(after_pin, card.image.auth_certificate);
    // PKCS#11 builds its objects before login, so it never shows the certificate (and stops
    // at that failure, so the CA certificates are missing too); the key still signs.
    let objects = card.pkcs11_tool(&[
        "--slot",
        &card.slot_for(AUTH_PIN_LABEL).id,
        "--list-objects",
    ]);
    assert!(
        !objects.expect_success().contains("Certificate Object"),
        "{objects}"
    );
    let (run, signature) = card.pkcs11_sign(AUTH_PIN_LABEL, card.auth_pin(), "01");
    run.expect_success();
    assert_signature_verifies(&card.image.auth_certificate, &signature, &run);
    assert_eq!(card.tries_left(PinRef::AuthPin), 3);
}
