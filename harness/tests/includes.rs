//! Includes nest: an include may include, the nearest file gives each key (the scenario,
//! then each include before the files it includes), a file is read once, and a cycle is an
//! error naming its files.

use harness::scenario::load_cases;
use std::path::{Path, PathBuf};

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("myna-includes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn the_nearest_file_gives_each_key() {
    let dir = folder("nearest");
    let card = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/cards/valid.yaml");
    write(
        &dir,
        "s.yaml",
        "include: [_a.yaml, _c.yaml]\nsteps:\n  - show: portal_screen\n",
    );
    write(&dir, "_a.yaml", "tags: [a]\ninclude: [_b.yaml, _d.yaml]\n");
    write(
        &dir,
        "_b.yaml",
        &format!(
            "title: from b\ntags: [b]\ncard: {}\ninclude: [_d.yaml]\n",
            card.display()
        ),
    );
    write(&dir, "_c.yaml", "title: from c\ndate: 2025-12-01\n");
    write(&dir, "_d.yaml", "facility: clinic-d\ntitle: from d\n");
    let cases = load_cases(&dir.join("s.yaml"), &[]).unwrap_or_else(|e| panic!("{e}"));
    let case = &cases[0];
    // s, then _a, _b, _d (through _b, read once though _a names it too), then _c.
    assert_eq!(case.title, "from b");
    assert_eq!(case.tags, ["a"]);
    assert_eq!(case.facility, "clinic-d");
    assert_eq!(case.date, time::macros::date!(2025 - 12 - 01));
    // A nested `card:` is not lost.
    assert_eq!(case.card.as_deref(), Some(card.as_path()));
}

#[test]
fn a_cycle_is_an_error_naming_its_files() {
    let dir = folder("cycle");
    write(
        &dir,
        "s.yaml",
        "title: t\ndate: 2025-12-01\ncard: none\nsteps: [place_card]\ninclude: [_a.yaml]\n",
    );
    write(&dir, "_a.yaml", "include: [s.yaml]\n");
    let err = load_cases(&dir.join("s.yaml"), &[]).unwrap_err();
    let shorts: Vec<String> = err.0.iter().map(|d| d.short()).collect();
    let s = dir.join("s.yaml");
    let a = dir.join("_a.yaml");
    assert_eq!(
        shorts,
        [format!(
            "{}:1:11: include cycle: {} → {} → {}",
            a.display(),
            s.display(),
            a.display(),
            s.display()
        )]
    );
}
