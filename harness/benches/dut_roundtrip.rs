//! Round trip of one adapter-protocol message (`reset` → `done`) between the harness and
//! the reference device `myna-dut-ref`, over TCP on loopback and over a socat pty pair.
//! Needs socat (bash .ci/setup). Run: cargo bench -p harness --bench dut_roundtrip

use criterion::{criterion_group, criterion_main, Criterion};
use harness::dut::link::{self, Address, Link};
use harness::dut::protocol::{write_message, FromDevice, LineReader, ToDevice};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Peer {
    out: Box<dyn Link>,
    lines: LineReader<Box<dyn Link>>,
    next: u64,
}

impl Peer {
    fn open(address: &Address) -> Peer {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut link = loop {
            match link::connect(address, Duration::from_secs(2)) {
                Ok(l) => break l,
                Err(e) if Instant::now() > deadline => panic!("{e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        link.set_read_timeout(Duration::from_secs(5)).unwrap();
        let out = link.try_clone_link().unwrap();
        let mut peer = Peer {
            out,
            lines: LineReader::new(link),
            next: 1,
        };
        write_message(&mut peer.out, &ToDevice::hello()).unwrap();
        loop {
            if let Ok(Some(FromDevice::Hello(_))) = peer.lines.read_message::<FromDevice>() {
                break;
            }
        }
        peer
    }

    fn roundtrip(&mut self) {
        let id = self.next;
        self.next += 1;
        write_message(&mut self.out, &ToDevice::Reset { id }).unwrap();
        loop {
            match self.lines.read_message::<FromDevice>() {
                Ok(Some(m)) if m.answers() == Some(id) => return,
                Ok(Some(_)) => {}
                other => panic!("no answer: {other:?}"),
            }
        }
    }
}

fn profiles() -> [String; 2] {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    [
        format!("{root}/scenarios/cards"),
        format!("{root}/scenarios/cards/faults"),
    ]
}

fn bench(c: &mut Criterion) {
    let dut = env!("CARGO_BIN_EXE_myna-dut-ref");
    let [a, b] = profiles();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let _tcp = Killed(
        Command::new(dut)
            .args(["--listen", &addr, "--profiles", &a, &b])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut peer = Peer::open(&Address::Tcp(addr));
    c.bench_function("dut/roundtrip/tcp", |bench| bench.iter(|| peer.roundtrip()));
    drop(peer);

    let dir = std::env::temp_dir().join(format!("myna-hil-bench-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (h, d) = (dir.join("h"), dir.join("d"));
    let _socat = Killed(
        Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", h.display()))
            .arg(format!("pty,raw,echo=0,link={}", d.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat"),
    );
    while !(h.exists() && d.exists()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _serial = Killed(
        Command::new(dut)
            .args(["--serial", d.to_str().unwrap(), "--profiles", &a, &b])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut peer = Peer::open(&Address::Serial {
        path: h.display().to_string(),
        baud: 115_200,
    });
    c.bench_function("dut/roundtrip/pty", |bench| bench.iter(|| peer.roundtrip()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
