//! Face cases against a device that holds nothing of the harness's: the camera clips travel
//! over the adapter link (`clip_offer`, `clip_chunk`, `clip_end`; docs/adapter-protocol.md,
//! "Camera clips"), so the shipped face cases pass against a `myna-dut-ref` in a mount
//! namespace of its own, where the repository, the harness's cache (photos, models) and the
//! harness's temp files and output do not exist, with the in-process verdicts. A transfer cut
//! by a broken link resumes where the device says it stopped (not from the start), and a
//! chunk corrupted on the way is refused by the device and sent again; either way the case
//! passes, the resumption is noted in the case's evidence, and the clip the device finally
//! holds is the one offered, byte for byte.
//!
//! The isolated device needs root (`unshare` of a mount and a PID namespace, tmpfs mounts):
//! without the privilege the first test is skipped locally and fails on CI. Needs pcscd with vsmartcard-vpcd and the
//! face runtime (`bash .ci/setup`).

use myna_hil_tests::{
    all_reader_slots, assert_exit_0, assert_no_secret, face_set_dir, free_port, fresh_dir,
    profiles, ref_dut_tcp, repo_root, run_myna_hil, text, verdicts, workspace_binary, Running,
};
use reports::CaseResult;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Its verdict depends on a score right at the threshold and flips under CPU load (issue
/// 13), in process as over the link: it is run and reported, not compared.
const FLAKY: &str = "reception.face-perturbed-severe[perturb=contrast=0.1]";

/// The one face case of the transfer-fault tests (its clip is a 41 MB Y4M: 422 chunks).
const ONE_CASE: &str = "face-match[card=valid,visit=first]";

// --- The device's log --------------------------------------------------------------------

/// One message in the device's log (`> {…}` in, `< {…}` out).
struct Logged {
    inbound: bool,
    message: Value,
}

/// The messages of a `myna-dut-ref --log` file, in order (other lines left out).
fn device_messages(log: &Path) -> Vec<Logged> {
    let body = std::fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("device log {}: {e}", log.display()));
    let mut out = Vec::new();
    for line in body.lines() {
        let marks = [line.find(" > {"), line.find(" < {")];
        let (at, inbound) = match marks {
            [Some(i), Some(o)] if i < o => (i, true),
            [Some(i), None] => (i, true),
            [_, Some(o)] => (o, false),
            [None, None] => continue,
        };
        let message: Value = serde_json::from_str(&line[at + 3..])
            .unwrap_or_else(|e| panic!("not JSON in the device log ({e}): {line}"));
        out.push(Logged { inbound, message });
    }
    out
}

/// Every stimulus of the harness (a message with an `id`) with the device's answer to it.
fn exchanges(log: &Path) -> Vec<(Value, Option<Value>)> {
    let mut out: Vec<(Value, Option<Value>)> = Vec::new();
    for Logged { inbound, message } in device_messages(log) {
        let Some(id) = message.get("id").and_then(Value::as_u64) else {
            continue;
        };
        if inbound {
            out.push((message, None));
        } else if let Some((_, answer)) = out
            .iter_mut()
            .rev()
            .find(|(asked, _)| asked["id"].as_u64() == Some(id))
        {
            answer.get_or_insert(message);
        }
    }
    out
}

fn kind(message: &Value) -> &str {
    message["type"].as_str().unwrap_or_default()
}

/// The device's answers to `clip_offer`s: (the offer, the `offset` of its `clip_have`).
fn offers(log: &Path) -> Vec<(Value, u64)> {
    exchanges(log)
        .into_iter()
        .filter(|(asked, _)| kind(asked) == "clip_offer")
        .map(|(asked, answer)| {
            let answer = answer.unwrap_or_else(|| panic!("no answer to {asked}"));
            assert_eq!(kind(&answer), "clip_have", "{asked} answered {answer}");
            let offset = answer["offset"].as_u64().expect("offset");
            (asked, offset)
        })
        .collect()
}

/// How many `clip_chunk`s the device was sent.
fn chunks_sent(log: &Path) -> usize {
    device_messages(log)
        .iter()
        .filter(|m| m.inbound && kind(&m.message) == "clip_chunk")
        .count()
}

/// The clip the device holds in `store` (its `--clips`) is the one offered: one named clip,
/// named after its own SHA-256, which is the offer's.
fn assert_store_holds(store: &Path, offer: &Value) {
    let names: Vec<String> = std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(names.len(), 1, "one clip in {}: {names:?}", store.display());
    let name = &names[0];
    assert_eq!(Some(name.as_str()), offer["name"].as_str(), "{offer}");
    let bytes = std::fs::read(store.join(name)).unwrap();
    assert_eq!(Some(bytes.len() as u64), offer["size"].as_u64(), "{name}");
    let sha = harness::clips::sha256_hex(&bytes);
    assert_eq!(Some(sha.as_str()), offer["sha256"].as_str(), "{name}");
    assert_eq!(
        name.strip_prefix("clip-").map(|n| &n[..16]),
        Some(&sha[..16]),
        "the name is the first 16 hex digits of the clip's SHA-256"
    );
}

fn case<'a>(cases: &'a [CaseResult], id_part: &str) -> &'a CaseResult {
    cases
        .iter()
        .find(|c| c.id.contains(id_part))
        .unwrap_or_else(|| panic!("no case {id_part} in {cases:?}"))
}

fn has_measurement(case: &CaseResult, name: &str) -> bool {
    case.measurements.iter().any(|m| m.name == name)
}

/// The run exited 0, or 1 with FLAKY its only case that did not pass or skip.
fn assert_exit_0_but_flaky(out: &Output, verdicts: &BTreeMap<String, String>) {
    let not_passed: Vec<&String> = verdicts
        .iter()
        .filter(|(_, v)| *v != "pass" && *v != "skip")
        .map(|(id, _)| id)
        .collect();
    if out.status.code() == Some(1) && not_passed == [FLAKY] {
        eprintln!(
            "note: {FLAKY} (flaky, issue 13) did not pass: {}",
            verdicts[FLAKY]
        );
        return;
    }
    assert_exit_0(out);
}

// --- A device that cannot read the harness's files -----------------------------------------

/// Run by `unshare --mount --propagation private` (as root), with the paths in its
/// environment: fills a fresh tmpfs with what a device legitimately has (its program, the
/// card profiles, ONNX Runtime and the face models), puts that tmpfs over /tmp (the
/// harness's temp files and output), hides the harness's other folders under empty
/// read-only tmpfs, proves that none of `MUST_NOT_SEE` shows, and starts the device there
/// with an environment of its own. The log goes to standard output (a file the test opened:
/// its path is hidden from the device too).
const ISOLATED_DEVICE: &str = r#"set -eu
nl='
'
mount -t tmpfs -o mode=1777 myna-dut-device "$STAGE"
d="$STAGE/device"
mkdir -p "$d/bin" "$d/profiles/cards" "$d/profiles/faults" "$d/clips" "$d/tmp" "$d/home" \
  "$d/cache/models" "$d/cache/onnxruntime/1.31.1"
cp "$KIT_BINARY" "$d/bin/myna-dut-ref"
cp "$KIT_CARDS"/*.yaml "$d/profiles/cards/"
cp "$KIT_FAULTS"/*.yaml "$d/profiles/faults/"
cp "$KIT_LIBRARY" "$d/cache/onnxruntime/1.31.1/libonnxruntime.so"
cp "$KIT_YUNET" "$KIT_SFACE" "$d/cache/models/"
mount --bind "$STAGE" /tmp
d=/tmp/device
IFS=$nl
for p in $HIDE; do
  if [ -d "$p" ]; then mount -t tmpfs -o ro,size=64k myna-hidden "$p"; fi
done
for p in $MUST_NOT_SEE; do
  if [ -e "$p" ]; then echo "isolation failed: $p is visible to the device" >&2; exit 97; fi
done
unset IFS
for f in "$d/bin/myna-dut-ref" "$d/cache/onnxruntime/1.31.1/libonnxruntime.so" \
  "$d/cache/models/$(basename "$KIT_SFACE")" "$d/profiles/cards/valid.yaml"; do
  if [ ! -s "$f" ]; then echo "the device's own $f is missing" >&2; exit 98; fi
done
echo "isolated: the device sees none of the harness's files" >&2
cd "$d"
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$d/home" TMPDIR="$d/tmp" \
  MYNA_HIL_CACHE="$d/cache" MYNA_HIL_MODELS="$d/cache/models" \
  ORT_DYLIB_PATH="$d/cache/onnxruntime/1.31.1/libonnxruntime.so" \
  "$d/bin/myna-dut-ref" --listen "127.0.0.1:$PORT" \
  --profiles "$d/profiles/cards" "$d/profiles/faults" --clips "$d/clips" --log /dev/stdout
"#;

/// A mount namespace (mounts made in it stay in it) and a PID namespace with its own /proc
/// (so that no `/proc/PID/root` or `/proc/PID/cwd` of the harness leads back to its files),
/// whose processes die with `unshare`.
const UNSHARE: [&str; 7] = [
    "--mount",
    "--propagation",
    "private",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
];

/// Whether this process may make a mount namespace and mount in it; why not when not.
fn can_isolate(dir: &Path) -> Result<(), String> {
    let probe = dir.join("probe");
    std::fs::create_dir_all(&probe).unwrap();
    let out = Command::new("unshare")
        .args(UNSHARE)
        .args(["mount", "-t", "tmpfs"])
        .arg("myna-probe")
        .arg(&probe)
        .output()
        .map_err(|e| format!("cannot run unshare (util-linux): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "unshare --mount cannot mount a tmpfs (root is needed): {}",
            text(&out.stderr).trim()
        ))
    }
}

/// `paths` one a line, for the script.
fn lines<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> String {
    let paths: Vec<String> = paths.map(|p| p.display().to_string()).collect();
    assert!(
        paths.iter().all(|p| !p.contains('\n')),
        "a path with a new line"
    );
    paths.join("\n")
}

/// `path` with symbolic links resolved (the device gets copies of the real files).
fn real(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `myna-dut-ref` in a mount namespace where none of `must_not_see` exists, listening on
/// loopback; its log in `log`.
///
/// The network namespace stays the host's: the device reaches the harness's
/// qualification-service simulator at the `service_url` of each case, on a loopback port
/// chosen per case, which a separate network namespace could only reach through a bridge
/// per port. Files are what this test is about.
fn isolated_device(
    dir: &Path,
    name: &str,
    log: &Path,
    must_not_see: &[PathBuf],
) -> (Running, String) {
    let runtime =
        camera_replay::runtime::RuntimePaths::from_env().unwrap_or_else(|e| panic!("{e}"));
    let models = runtime.check().unwrap_or_else(|e| panic!("{e}"));
    let [cards, faults] = profiles().map(PathBuf::from);
    // The harness's folders: the repository, the workspace's programs (the device's own
    // copy aside), its cache (photos, models, ONNX Runtime), the face set beside the
    // repository, and this test's own folder (when the temp folder is not /tmp, which the
    // device's tmpfs covers).
    let binary = workspace_binary("myna-dut-ref");
    let mut hide = vec![
        repo_root(),
        binary.parent().unwrap().to_path_buf(),
        harness::photos::cache_dir(),
        runtime.models_dir.clone(),
        face_set_dir(),
        dir.to_path_buf(),
        std::env::temp_dir(),
    ];
    hide.retain(|p| p.is_dir() && real(p) != Path::new("/tmp") && real(p) != Path::new("/"));
    let hide: BTreeSet<PathBuf> = hide.iter().map(|p| real(p)).collect();
    let stage = dir.join(format!("{name}-tmp"));
    std::fs::create_dir_all(&stage).unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let err = dir.join(format!("{name}.err"));
    let child = Command::new("unshare")
        .args(UNSHARE)
        .args(["sh", "-c", ISOLATED_DEVICE])
        .env("STAGE", &stage)
        .env("KIT_BINARY", real(&binary))
        .env("KIT_CARDS", &cards)
        .env("KIT_FAULTS", &faults)
        .env("KIT_LIBRARY", real(&runtime.library))
        .env("KIT_YUNET", real(&models.yunet))
        .env("KIT_SFACE", real(&models.sface))
        .env("HIDE", lines(hide.iter()))
        .env("MUST_NOT_SEE", lines(must_not_see.iter()))
        .env("PORT", port.to_string())
        .current_dir("/")
        .stdin(Stdio::null())
        // Appended to by the device's log and its own standard output alike.
        .stdout(File::options().create(true).append(true).open(log).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .expect("run unshare");
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(&addr).is_err() {
        if let Ok(Some(status)) = running.0.try_wait() {
            panic!(
                "the isolated device ended ({status}):\n{}{}",
                std::fs::read_to_string(&err).unwrap_or_default(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the isolated device never listened on {addr}: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // That probe connection was a session too: let the device see it close.
    std::thread::sleep(Duration::from_millis(100));
    (running, addr)
}

/// The root folder of the isolated device (the child of `unshare`), as this process sees it.
fn device_root(device: &Running) -> PathBuf {
    let pid = device.0.id();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_else(|e| panic!("the children of unshare ({pid}): {e}"));
    let child = children
        .split_whitespace()
        .next()
        .expect("unshare has a child");
    PathBuf::from(format!("/proc/{child}/root"))
}

#[test]
fn the_shipped_face_cases_pass_against_a_device_that_cannot_read_the_harness_files() {
    let dir = fresh_dir("dut-remote-face");
    if let Err(why) = can_isolate(&dir) {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI runs the isolated device, but {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    // The verdicts the cases have in process.
    let inproc = dir.join("inprocess");
    let out = run_myna_hil(&[
        "run",
        "scenarios",
        "--filter",
        "face",
        "--out",
        inproc.to_str().unwrap(),
    ]);
    let expected = verdicts(&inproc.join("results.json"));
    assert_exit_0_but_flaky(&out, &expected);

    // The device, with the harness's output folder made first so its absence inside proves
    // something.
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let photos = harness::photos::cache_dir().join("photos");
    let runtime =
        camera_replay::runtime::RuntimePaths::from_env().unwrap_or_else(|e| panic!("{e}"));
    let mut must_not_see = vec![
        repo_root().join("Cargo.toml"),
        repo_root().join("scenarios/reception/face-match.yaml"),
        workspace_binary("myna-dut-ref"),
        photos,
        runtime.models_dir.join(camera_replay::runtime::SFACE.file),
        out_dir.clone(),
        inproc.join("results.json"),
        // Through this process's /proc entry, its files would all show.
        PathBuf::from(format!("/proc/{}/root", std::process::id()))
            .join(out_dir.strip_prefix("/").unwrap()),
    ];
    // ONNX Runtime is hidden with the cache it came from (ORT_DYLIB_PATH may name a system
    // library instead, which is not the harness's to hide; the device uses its copy anyway).
    if runtime.library.starts_with(harness::photos::cache_dir()) {
        must_not_see.push(runtime.library.clone());
    }
    assert!(must_not_see.iter().all(|p| p.exists()), "{must_not_see:?}");
    // Two devices (a pool): each face case plays its clip in real time on one of them.
    let _slots = all_reader_slots();
    let devices: Vec<(Running, String, PathBuf)> = ["device-a", "device-b"]
        .iter()
        .map(|name| {
            let log = dir.join(format!("{name}.log"));
            let (device, addr) = isolated_device(&dir, name, &log, &must_not_see);
            assert!(
                std::fs::read_to_string(dir.join(format!("{name}.err")))
                    .unwrap()
                    .contains("isolated:"),
                "{name} was started without its isolation checked"
            );
            (device, addr, log)
        })
        .collect();

    let mut args: Vec<String> = [
        "run",
        "scenarios",
        "--filter",
        "face",
        "--card",
        "pcsc",
        "--out",
        out_dir.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec();
    for (_, addr, _) in &devices {
        args.extend(["--reader".to_owned(), format!("dut:tcp:{addr}")]);
    }
    let run = run_myna_hil(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let got = verdicts(&out_dir.join("results.json"));
    assert_exit_0_but_flaky(&run, &got);

    // The same cases, with the same verdicts (FLAKY aside).
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the same cases ran"
    );
    let mut differ = Vec::new();
    for (id, verdict) in &got {
        if id == FLAKY {
            if verdict != &expected[id] {
                eprintln!(
                    "note: {id} (flaky, issue 13): {verdict} over the link, {} in process",
                    expected[id]
                );
            }
        } else if verdict != &expected[id] {
            differ.push(format!("{id}: {verdict}, in process {}", expected[id]));
        }
    }
    assert!(
        differ.is_empty(),
        "verdicts differ:\n{}\n{}",
        differ.join("\n"),
        text(&run.stdout)
    );
    let face_cases = got
        .keys()
        .filter(|id| id.starts_with("reception.") && id.contains("face") && *id != FLAKY)
        .count();
    assert!(face_cases >= 30, "{face_cases} face cases compared");
    assert!(got.values().any(|v| v == "pass"), "{got:?}");

    let mut camera_cases = BTreeSet::new();
    for (device, _, log) in &devices {
        // Every clip came over the link (the store was empty), whole and checked.
        let talk = exchanges(log);
        let mut received = BTreeSet::new();
        for (asked, answer) in &talk {
            let answer = answer
                .as_ref()
                .unwrap_or_else(|| panic!("no answer to {asked}"));
            match kind(asked) {
                "clip_end" => {
                    assert_eq!(kind(answer), "done", "{asked} answered {answer}");
                    received.insert(asked["name"].as_str().unwrap().to_owned());
                }
                "clip_chunk" => assert_eq!(kind(answer), "done", "{asked} answered {answer}"),
                _ => {}
            }
        }
        assert!(!received.is_empty(), "{}: no clip received", log.display());
        // A clip is sent once to a device: offered again later, the device holds it whole.
        for (offer, offset) in offers(log) {
            let name = offer["name"].as_str().unwrap();
            assert!(
                offset == 0
                    || (offset == offer["size"].as_u64().unwrap() && received.contains(name)),
                "{offer} answered with offset {offset}"
            );
        }
        // The camera played clips received over the link, in the face cases.
        let mut case_id = String::new();
        for (asked, answer) in &talk {
            match kind(asked) {
                "case_start" => case_id = asked["case"].as_str().unwrap_or_default().to_owned(),
                "camera_start" => {
                    let name = asked["clip"]["name"].as_str().unwrap_or_default();
                    assert!(received.contains(name), "{asked}: a clip never received");
                    assert_eq!(
                        answer.as_ref().map(kind),
                        Some("done"),
                        "{asked} answered {answer:?}"
                    );
                    camera_cases.insert(case_id.clone());
                }
                _ => {}
            }
        }
        let device_log = std::fs::read_to_string(log).unwrap();
        assert!(!device_log.contains("clip refused"), "a chunk was refused");
        // The device's store (on its own tmpfs, seen from here through its /proc entry)
        // holds exactly those clips, each with the SHA-256 its name starts with.
        let store = device_root(device).join("tmp/device/clips");
        let held: BTreeSet<String> = std::fs::read_dir(&store)
            .unwrap_or_else(|e| panic!("{}: {e}", store.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        assert_eq!(held, received, "the clips in the device's store");
        for name in &held {
            let sha = harness::clips::sha256_hex(&std::fs::read(store.join(name)).unwrap());
            assert_eq!(name.get(5..21), Some(&sha[..16]), "{name}");
        }
    }
    assert!(
        camera_cases.len() >= 30 && camera_cases.iter().all(|c| c.contains("face")),
        "{} cases used the camera: {camera_cases:?}",
        camera_cases.len()
    );
    let cases = reports::results::ResultsFile::read(&out_dir.join("results.json"))
        .unwrap()
        .cases;
    assert!(
        cases
            .iter()
            .any(|c| has_measurement(c, "step.dut.clip_transfer")),
        "no clip transfer timed"
    );

    let mut files: Vec<PathBuf> = devices.iter().map(|(_, _, log)| log.clone()).collect();
    for d in [&inproc, &out_dir] {
        files.extend(["results.json", "junit.xml", "latency.md"].map(|f| d.join(f)));
    }
    assert_no_secret(&files);
}

// --- Transfers that go wrong on the way -----------------------------------------------------

/// What the proxy does to the `clip_chunk` lines from the harness.
#[derive(Clone, Copy, Debug)]
enum ChunkFault {
    /// On the first connection, closes both sides right after forwarding chunk `n` (from 1).
    BreakAfter(usize),
    /// Changes one base64 letter of chunk `n`'s `data` (still base64), leaving its `sha256`.
    Corrupt(usize),
}

fn contains(line: &[u8], part: &[u8]) -> bool {
    line.windows(part.len()).any(|w| w == part)
}

/// One letter of the `data` of a `clip_chunk` line changed (A↔B, well inside it, so the
/// base64 stays valid and the bytes differ).
fn corrupt(line: &mut [u8]) {
    let key = b"\"data\":\"";
    let start = line
        .windows(key.len())
        .position(|w| w == key)
        .expect("a clip_chunk has data")
        + key.len();
    let at = start + 100;
    assert!(line[start..at].iter().all(|&b| b != b'"'), "data too short");
    line[at] = if line[at] == b'A' { b'B' } else { b'A' };
}

/// A line proxy between the harness (listening on the returned address) and `upstream`;
/// device → harness passes untouched.
fn proxy(upstream: String, fault: ChunkFault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // `clip_chunk` lines from the harness, over every connection.
    let chunks = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(harness) = conn else { return };
            let Ok(device) = TcpStream::connect(&upstream) else {
                return;
            };
            let first = n == 0;
            let mut to_harness = harness.try_clone().unwrap();
            let mut from_device = device.try_clone().unwrap();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_device, &mut to_harness);
                let _ = to_harness.shutdown(Shutdown::Both);
            });
            let chunks = chunks.clone();
            std::thread::spawn(move || {
                let mut to_device = device;
                let mut from_harness = BufReader::new(harness.try_clone().unwrap());
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match from_harness.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let chunk = contains(&line, b"\"type\":\"clip_chunk\"");
                    let nth = if chunk {
                        chunks.fetch_add(1, Ordering::SeqCst) + 1
                    } else {
                        0
                    };
                    if matches!(fault, ChunkFault::Corrupt(k) if k == nth) {
                        corrupt(&mut line);
                    }
                    if to_device.write_all(&line).is_err() {
                        break;
                    }
                    if matches!(fault, ChunkFault::BreakAfter(k) if first && k == nth) {
                        let _ = harness.shutdown(Shutdown::Both);
                        break;
                    }
                }
                // The harness hung up (or the link was cut): so does the proxy, both ways.
                let _ = to_device.shutdown(Shutdown::Both);
            });
        }
    });
    addr
}

/// ONE_CASE through a proxy with `fault` in front of a fresh `myna-dut-ref` with an empty
/// clip store: the run, the case, the device's log and its clip store.
fn one_face_case_through(name: &str, fault: ChunkFault) -> (CaseResult, PathBuf, PathBuf) {
    let dir = fresh_dir(name);
    let store = dir.join("clips");
    let log = dir.join("dut.log");
    let _slots = all_reader_slots();
    let (_dut, addr) = ref_dut_tcp(&log, &["--clips", store.to_str().unwrap()]);
    let via = proxy(addr, fault);
    let out_dir = dir.join("out");
    let reader = format!("dut:tcp:{via}");
    let scenario = repo_root().join("scenarios/reception/face-match.yaml");
    let out = run_myna_hil(&[
        "run",
        scenario.to_str().unwrap(),
        "--filter",
        ONE_CASE,
        "--card",
        "pcsc",
        "--reader",
        &reader,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_exit_0(&out);
    let cases = reports::results::ResultsFile::read(&out_dir.join("results.json"))
        .unwrap()
        .cases;
    assert_eq!(cases.len(), 1, "{cases:?}");
    let case = case(&cases, ONE_CASE).clone();
    assert_eq!(case.verdict.as_str(), "pass", "{case:?}");
    assert!(has_measurement(&case, "step.dut.clip_transfer"), "{case:?}");
    assert_no_secret(&[
        log.clone(),
        out_dir.join("results.json"),
        out_dir.join("junit.xml"),
    ]);
    (case, log, store)
}

#[test]
fn a_broken_transfer_resumes_where_it_stopped() {
    let (case, log, store) = one_face_case_through("dut-clip-broken", ChunkFault::BreakAfter(3));
    assert!(
        case.evidence.contains("started again after"),
        "{}",
        case.evidence
    );
    // Offered on the first session (nothing held), then again on the second, where the
    // device says how much it holds: the chunks it had checked (three).
    let offers = offers(&log);
    assert_eq!(offers.len(), 2, "two offers");
    let (offer, size) = (&offers[0].0, offers[0].0["size"].as_u64().unwrap());
    assert_eq!(offers[0].1, 0, "a fresh store holds nothing");
    assert_eq!(offers[1].0["sha256"], offer["sha256"], "the same clip");
    let resumed_at = offers[1].1;
    let chunk = harness::clips::CHUNK_BYTES as u64;
    assert!(
        resumed_at > 0 && resumed_at < size && resumed_at.checked_rem(chunk) == Some(0),
        "resumed at {resumed_at} of {size}"
    );
    assert!(resumed_at >= 2 * chunk, "resumed at {resumed_at}");
    let sessions = device_messages(&log)
        .iter()
        .filter(|m| m.inbound && kind(&m.message) == "hello")
        .count();
    assert_eq!(sessions, 2, "a second session after the cut");
    // Not the whole clip twice: what was sent is one clip and the chunks the cut lost.
    let per_clip = size.div_ceil(chunk) as usize;
    let sent = chunks_sent(&log);
    assert!(
        sent >= per_clip && sent <= per_clip + 3 && sent < 2 * per_clip,
        "{sent} chunks sent for a clip of {per_clip}"
    );
    assert_store_holds(&store, offer);
}

#[test]
fn a_corrupted_chunk_is_refused_and_sent_again() {
    let (case, log, store) = one_face_case_through("dut-clip-corrupt", ChunkFault::Corrupt(2));
    let device_log = std::fs::read_to_string(&log).unwrap();
    assert!(
        device_log.contains("clip refused: clip_mismatch"),
        "the device took a corrupted chunk"
    );
    assert!(
        case.evidence.contains("started again after") && case.evidence.contains("clip_mismatch"),
        "{}",
        case.evidence
    );
    // Offered again on the same session: the device holds the one chunk before the
    // corrupted one, which is sent again.
    let offers = offers(&log);
    assert_eq!(offers.len(), 2, "two offers");
    let offer = &offers[0].0;
    assert_eq!(offers[0].1, 0);
    assert_eq!(offers[1].0["sha256"], offer["sha256"], "the same clip");
    let chunk = harness::clips::CHUNK_BYTES as u64;
    assert_eq!(offers[1].1, chunk, "resumed after the first chunk");
    let per_clip = offer["size"].as_u64().unwrap().div_ceil(chunk) as usize;
    assert_eq!(chunks_sent(&log), per_clip + 1, "one chunk sent twice");
    assert_store_holds(&store, offer);
}
