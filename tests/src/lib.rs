//! Shared fixtures for the end-to-end tests: the real pcscd (started here when none runs)
//! and exclusive slots on its two vpcd readers.
//!
//! The pcscd fixture: take a file lock, look for a running pcscd that lists the vpcd
//! readers; if there is none, start `/usr/sbin/pcscd --foreground`, keep its PID, wait until
//! the readers are listed, and stop it by that PID when the test process exits.
//! `cargo test` runs the tests of one binary in parallel and the binaries one after the
//! other; nextest runs them in parallel processes, which is why every reader use is
//! serialised by a file lock (and `.config/nextest.toml` puts them in one test group).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const PCSCD: &str = "/usr/sbin/pcscd";
pub const READERS: [&str; 2] = ["Virtual PCD 00 00", "Virtual PCD 00 01"];
pub const PORTS: [u16; 2] = [35963, 35964];

/// The PID of the pcscd this process started (0: none).
static OUR_PCSCD: AtomicI32 = AtomicI32::new(0);
static CHILD: OnceLock<Mutex<Option<Child>>> = OnceLock::new();

/// An exclusive `flock` on a file in the temp folder, released on drop.
pub struct FileLock {
    _file: File,
}

impl FileLock {
    pub fn acquire(name: &str) -> FileLock {
        let path = std::env::temp_dir().join(name);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open lock file {}: {e}", path.display()));
        // SAFETY: flock on a valid descriptor owned by `file`; blocks until granted.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(
            rc,
            0,
            "flock {} failed: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        FileLock { _file: file }
    }
}

fn vpcd_readers_listed() -> bool {
    match harness::channel::pcsc_driver::list_readers() {
        Ok(readers) => READERS.iter().all(|r| readers.iter().any(|x| x == r)),
        Err(_) => false,
    }
}

/// True when no other process holds a reader slot right now.
fn readers_idle() -> bool {
    (0..READERS.len()).all(|i| {
        let path = std::env::temp_dir().join(format!("myna-hil-reader-{i}.lock"));
        let Ok(file) = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
        else {
            return false;
        };
        // SAFETY: non-blocking flock on a descriptor we own; released when `file` drops.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    })
}

extern "C" fn stop_our_pcscd() {
    let _lock = FileLock::acquire("myna-hil-pcscd-start.lock");
    // Another test process (nextest, or a second `cargo test`) may be using the pcscd we
    // started: then it stays up for them. Otherwise we stop it by its PID, as promised.
    if !readers_idle() {
        return;
    }
    let pid = OUR_PCSCD.swap(0, Ordering::SeqCst);
    if pid <= 0 {
        return;
    }
    // SAFETY: plain signal to the process we started.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    if let Some(Ok(mut guard)) = CHILD.get().map(|m| m.lock()) {
        if let Some(child) = guard.as_mut() {
            let _ = child.wait();
        }
    }
}

/// Makes sure a pcscd with the vpcd readers runs; returns once the readers are listed.
/// Checked on every call: a pcscd another process started may have gone since.
/// Panics with the reason when it cannot (the test needs the real PC/SC stack).
pub fn ensure_pcscd() {
    let _lock = FileLock::acquire("myna-hil-pcscd-start.lock");
    if vpcd_readers_listed() {
        return;
    }
    if let Some(Ok(mut guard)) = CHILD.get().map(|m| m.lock()) {
        // Ours died: reap it before starting another.
        if let Some(mut child) = guard.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    assert!(
        Path::new(PCSCD).exists(),
        "{PCSCD} is missing: run .ci/setup (apt packages pcscd vsmartcard-vpcd)"
    );
    let log = std::env::temp_dir().join("myna-hil-pcscd.log");
    let stdout = File::create(&log).map(Stdio::from).unwrap_or(Stdio::null());
    // Kept in CHILD and waited for at exit (stop_our_pcscd) or on restart.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(PCSCD)
        .arg("--foreground")
        .stdout(stdout)
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {PCSCD}: {e}"));
    OUR_PCSCD.store(child.id() as i32, Ordering::SeqCst);
    let slot = CHILD.get_or_init(|| Mutex::new(None));
    if let Ok(mut guard) = slot.lock() {
        *guard = Some(child);
    }
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    // SAFETY: registers a plain extern "C" function; runs at process exit.
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(stop_our_pcscd);
    });
    let start = Instant::now();
    while !vpcd_readers_listed() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "pcscd started but did not list the vpcd readers within 15 s (log: {})",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// True when this process started pcscd (and so may restart it).
pub fn we_own_pcscd() -> bool {
    OUR_PCSCD.load(Ordering::SeqCst) > 0
}

/// Restarts the pcscd this process started (for the recovery test). Returns false when
/// pcscd belongs to someone else.
pub fn restart_our_pcscd() -> bool {
    let Some(Ok(mut guard)) = CHILD.get().map(|m| m.lock()) else {
        return false;
    };
    let Some(child) = guard.as_mut() else {
        return false;
    };
    // SAFETY: signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    let fresh = Command::new(PCSCD)
        .arg("--foreground")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot restart {PCSCD}: {e}"));
    OUR_PCSCD.store(fresh.id() as i32, Ordering::SeqCst);
    *guard = Some(fresh);
    drop(guard);
    let start = Instant::now();
    while !vpcd_readers_listed() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "restarted pcscd lists no readers"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Exclusive use of one vpcd reader (index 0 or 1) for as long as the value lives.
pub struct ReaderSlot {
    pub index: usize,
    _lock: FileLock,
}

impl ReaderSlot {
    pub fn reader(&self) -> &'static str {
        READERS[self.index]
    }
    pub fn port(&self) -> u16 {
        PORTS[self.index]
    }
}

/// Waits for reader `index` to be free and takes it; starts pcscd when needed.
pub fn reader_slot(index: usize) -> ReaderSlot {
    ensure_pcscd();
    ReaderSlot {
        index,
        _lock: FileLock::acquire(&format!("myna-hil-reader-{index}.lock")),
    }
}

/// Both readers, in a fixed order (no deadlock): for clients such as OpenSC that look at
/// every reader of pcscd.
pub fn all_reader_slots() -> [ReaderSlot; 2] {
    [reader_slot(0), reader_slot(1)]
}

/// The repository root (for shipped files such as `scenarios/cards`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The LFW face set folder: `MYNA_HIL_FACE_SET` if set (a relative path counts from the
/// repository root, as in `.ci/check-accuracy`), else `../shared/data/faces/lfw-deepfunneled`
/// beside the repository. The one place these tests learn where the face set is.
pub fn face_set_dir() -> PathBuf {
    let set = std::env::var_os("MYNA_HIL_FACE_SET")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data/faces/lfw-deepfunneled"));
    repo_root().join(set)
}

/// The face set (LFW), which must be there: the face tests fail, never skip, without it.
pub fn lfw_set() -> PathBuf {
    let dir = face_set_dir();
    assert!(
        dir.is_dir(),
        "{} is missing: the face set lives beside the repository, or where MYNA_HIL_FACE_SET \
         points",
        dir.display()
    );
    dir
}

/// `<dir>/set`: a face set of these LFW people, as links to their folders (no image is
/// copied).
pub fn linked_face_set(dir: &Path, people: &[&str]) -> PathBuf {
    let lfw = lfw_set();
    let set = dir.join("set");
    std::fs::create_dir_all(&set).expect("create the set folder");
    for p in people {
        std::os::unix::fs::symlink(lfw.join(p), set.join(p)).expect("link a person's folder");
    }
    set
}

/// A shipped profile, with its photo from the cache.
pub fn shipped_profile(name: &str) -> card_emulator::CardProfile {
    let path = repo_root()
        .join("scenarios/cards")
        .join(format!("{name}.yaml"));
    harness::cards::load_profile(&path, &harness::cards::cached_photo)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Path of a binary of the workspace (`myna-hil`, `myna-vicc`), built by
/// `cargo build --workspace --bins` next to the test executables.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`), as .ci/run does",
        path.display()
    );
    path
}

/// Runs the workspace's `myna-hil` in the repository root and waits for it.
pub fn run_myna_hil(args: &[&str]) -> std::process::Output {
    Command::new(workspace_binary("myna-hil"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run myna-hil")
}

/// Asserts that a `myna-hil` run exited 0, showing all it printed when it did not.
pub fn assert_exit_0(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// id → verdict from a results file.
pub fn verdicts(json: &Path) -> std::collections::BTreeMap<String, String> {
    reports::results::ResultsFile::read(json)
        .unwrap_or_else(|e| panic!("{}: {e}", json.display()))
        .cases
        .into_iter()
        .map(|c| (c.id, c.verdict.as_str().to_owned()))
        .collect()
}

/// Validates a JUnit file with `xmllint` against both schemas CI tools are held to (the
/// Jenkins xUnit plugin's junit-10.xsd and the Ant JUnit.xsd, fetched by
/// .ci/fetch-junit-schemas; docs/junit.md). The one place tests check JUnit against them.
/// Without xmllint or the schemas a local run skips with a note; CI (CI=true) fails.
pub fn assert_junit_valid(junit: &Path) {
    let dir = harness::photos::cache_dir().join("junit-schemas");
    let schemas = ["junit-10.xsd", "JUnit.xsd"].map(|name| dir.join(name));
    let missing = match Command::new("xmllint").arg("--version").output() {
        Err(e) => Some(format!(
            "xmllint is not available ({e}): install libxml2-utils"
        )),
        Ok(_) => schemas
            .iter()
            .find(|s| !s.is_file())
            .map(|s| format!("{} is missing: run .ci/fetch-junit-schemas", s.display())),
    };
    if let Some(why) = missing {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI validates JUnit, but {why}"
        );
        eprintln!(
            "skipped: JUnit schema validation of {}: {why}",
            junit.display()
        );
        return;
    }
    for schema in &schemas {
        let out = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(schema)
            .arg(junit)
            .output()
            .expect("run xmllint");
        assert!(
            out.status.success(),
            "{} is not valid under {}:\n{}",
            junit.display(),
            schema.display(),
            text(&out.stderr)
        );
    }
}

/// Output bytes as text, for assertions and their messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An empty folder of this test process named `name`.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("myna-hil-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary folder");
    dir
}

/// Every secret of the shipped profiles, as text and as the hex of its ASCII (a VERIFY's
/// data): PINs (4 digits: only their hex and their VERIFY, as the digits alone occur in
/// dates and numbers), passwords and 照合番号B.
pub fn secrets() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["scenarios/cards", "scenarios/cards/faults"] {
        for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let p = harness::cards::load_profile(&path, &harness::cards::no_photos).unwrap();
            let code_b = card_emulator::records::surface_code_b(
                p.holder.birth_date,
                p.card_expiry_year,
                p.security_code.expose(),
            );
            out.push(code_b.clone());
            out.push(hex::encode_upper(code_b.as_bytes()));
            for pin in [&p.auth_pin, &p.text_pin].into_iter().flatten() {
                out.push(format!(
                    "0020008004{}",
                    hex::encode_upper(pin.value.expose())
                ));
            }
            if let Some(pw) = &p.sign_password {
                out.push(pw.value.expose().to_owned());
                out.push(hex::encode_upper(pw.value.expose().as_bytes()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// No output of a run holds a secret.
pub fn assert_no_secret(files: &[PathBuf]) {
    let secrets = secrets();
    assert!(secrets.len() > 20, "{} secrets", secrets.len());
    for file in files {
        let Ok(body) = std::fs::read_to_string(file) else {
            panic!("{} missing", file.display())
        };
        let upper = body.to_uppercase();
        for s in &secrets {
            assert!(
                !upper.contains(&s.to_uppercase()),
                "a secret ({} chars) in {}",
                s.len(),
                file.display()
            );
        }
    }
}

/// A child process killed when the test ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// --- Cards attached by hand, for the channel-level tests and benchmarks -------------------

use card_emulator::vpcd::{VirtualCard, VpcdAddress};
use card_emulator::{Card, CardImage, CardProfile};
use harness::channel::guard::{GuardedChannel, Policy, RunSecret};
use harness::channel::inprocess::InProcessChannel;
use harness::channel::pcsc_driver::PcscChannel;
use harness::channel::{CardChannel, ChannelError};
use std::sync::Arc;

/// pcscd polls readers every 400 ms; an insertion or removal may take that long to show.
const INSERT_TIMEOUT: Duration = Duration::from_secs(3);
/// After a removal, wait this long before the next insertion or it may go unseen.
const REINSERT_GAP: Duration = Duration::from_millis(450);

/// Where the cards of a run are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardSite {
    /// The emulator called directly.
    InProcess,
    /// The emulator attached to vpcd (`port`), reached through pcscd as `reader`.
    Vpcd { port: u16, reader: String },
    /// Whatever card is in this PC/SC reader.
    Reader(String),
}

/// A guarded channel to the card of one profile, and what keeps that card alive.
pub struct Attached {
    pub channel: GuardedChannel<Box<dyn CardChannel>>,
    /// The card in vpcd; dropping it takes the card out.
    virtual_card: Option<VirtualCard>,
    reader: Option<String>,
}

impl Attached {
    /// Takes the card out of the reader and waits until pcscd has seen it go.
    pub fn detach(mut self) {
        if let (Some(card), Some(reader)) = (self.virtual_card.take(), self.reader.take()) {
            drop(card);
            let _ = harness::channel::pcsc_driver::wait_for_removal(&reader, INSERT_TIMEOUT);
            std::thread::sleep(REINSERT_GAP);
        }
    }
}

/// Puts the card of `profile` where `site` says and connects to it.
pub fn attach(
    profile: &CardProfile,
    site: &CardSite,
    secret: &RunSecret,
    policy: Policy,
    deadline: Duration,
) -> Result<Attached, String> {
    let build = || -> Result<Card, String> {
        let image = CardImage::build(profile).map_err(|e| format!("cannot build the card: {e}"))?;
        Ok(Card::new(Arc::new(image)).with_attach_secret(secret.bytes()))
    };
    let (channel, virtual_card, reader): (Box<dyn CardChannel>, _, _) = match site {
        CardSite::InProcess => (
            Box::new(InProcessChannel::new(build()?, deadline)),
            None,
            None,
        ),
        CardSite::Vpcd { port, reader } => {
            let address = VpcdAddress {
                port: *port,
                ..VpcdAddress::default()
            };
            let card = VirtualCard::attach(build()?, &address)
                .map_err(|e| format!("cannot attach the card to a vpcd reader: {e}"))?;
            harness::channel::pcsc_driver::wait_for_card(reader, INSERT_TIMEOUT)
                .map_err(|e| format!("pcscd did not see the card in `{reader}`: {e}"))?;
            let channel = PcscChannel::connect(reader, deadline).map_err(describe)?;
            (Box::new(channel), Some(card), Some(reader.clone()))
        }
        CardSite::Reader(reader) => {
            let channel = PcscChannel::connect(reader, deadline).map_err(describe)?;
            (Box::new(channel), None, None)
        }
    };
    Ok(Attached {
        channel: GuardedChannel::new(channel, Some(secret), policy),
        virtual_card,
        reader,
    })
}

fn describe(e: ChannelError) -> String {
    format!("cannot connect to the card: {e}")
}

/// The conformance checks on the card of `profile`, run by the engine as `myna-hil
/// conformance` runs them, with their results in check order.
pub fn run_conformance(
    profile: &Path,
    cards: harness::engine::CardSite,
    deadline: Duration,
) -> Vec<reports::CaseResult> {
    let cases = harness::scenario::conformance_cases(
        Path::new("conformance"),
        "conformance",
        "Card conformance",
        &[],
        &[profile.to_path_buf()],
        deadline * 2,
    );
    let loaded = harness::cards::load_cards(
        cases.iter().filter_map(harness::scenario::Case::card_key),
        &harness::cards::cached_photo,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let options = harness::engine::RunOptions {
        jobs: 1,
        cards,
        devices: Vec::new(),
        stop: Default::default(),
        desk: None,
        events: None,
    };
    harness::engine::run_collect(cases, loaded, &options).unwrap_or_else(|e| panic!("{e}"))
}

/// The vpcd reader of `slot` as the engine's card site.
pub fn vpcd_site(slot: &ReaderSlot) -> harness::engine::CardSite {
    harness::engine::CardSite::Vpcd(vec![(slot.port(), slot.reader().to_owned())])
}

/// A free TCP port on loopback (free when asked; bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shipped card profile folders, for `myna-dut-ref --profiles`.
pub fn profiles() -> [String; 2] {
    let root = repo_root();
    [
        root.join("scenarios/cards").display().to_string(),
        root.join("scenarios/cards/faults").display().to_string(),
    ]
}

/// A socat pty pair in `dir`: (socat, one end, the other end), both ends there once this
/// returns.
pub fn pty_pair(dir: &Path) -> (Running, PathBuf, PathBuf) {
    let (a, b) = (dir.join("pty-harness"), dir.join("pty-device"));
    let child = Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("socat (bash .ci/setup installs it)");
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(a.exists() && b.exists()) {
        assert!(Instant::now() < deadline, "socat made no pty pair");
        std::thread::sleep(Duration::from_millis(20));
    }
    (running, a, b)
}

/// The reference device listening on TCP (with `extra` arguments).
pub fn ref_dut_tcp(log: &Path, extra: &[&str]) -> (Running, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let [a, b] = profiles();
    let child = Command::new(workspace_binary("myna-dut-ref"))
        .args(["--listen", &addr, "--profiles", &a, &b, "--log"])
        .arg(log)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start myna-dut-ref");
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "myna-dut-ref never listened on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // That probe connection was a session too: let the device see it close.
    std::thread::sleep(Duration::from_millis(100));
    (running, addr)
}

pub mod liars;

/// A card the harness did not attach (an emulated one plugged into `slot` by the test,
/// which the harness cannot tell from a real card), seen by pcscd.
pub fn foreign_card(slot: &ReaderSlot, profile: &str) -> card_emulator::vpcd::VirtualCard {
    use card_emulator::vpcd::{VirtualCard, VpcdAddress};
    let image = CardImage::build(&shipped_profile(profile)).expect("card image");
    let address = VpcdAddress {
        port: slot.port(),
        ..VpcdAddress::default()
    };
    let card = VirtualCard::attach(Card::new(std::sync::Arc::new(image)), &address)
        .expect("plug the card in");
    harness::channel::pcsc_driver::wait_for_card(slot.reader(), Duration::from_secs(5))
        .expect("seen");
    card
}

// --- Headless Chromium (Debian's `chromium`) ----------------------------------------------

/// The flags every browser test starts Chromium with: as root (CI) it runs only without its
/// sandbox, and the background flags keep it from reaching for Google's hosts on a closed
/// network.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Whether chromium can be started; in CI it must be (`what` says what CI would do with
/// it). Without it a local run skips, with a note.
pub fn chromium_available(what: &str) -> bool {
    let found = Command::new("chromium")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI {what} in a browser, but chromium is missing: run .ci/setup"
        );
        eprintln!("skipped: {what} in a browser: chromium is missing (apt package chromium)");
    }
    found
}
