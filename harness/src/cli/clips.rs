//! `myna-hil clips export DIR SCENARIOS…`: every camera clip a suite's face cases will play,
//! written ahead of time with a manifest, for benches that play clips on a screen or a
//! virtual camera, or that put them on a device before the run (a device holding a clip is
//! sent nothing: the names are the ones the harness offers, `crate::clips::clip_name`).

use super::args::ClipsExportArgs;
use super::{say, CliError, Exit};
use crate::clips::{ClipFile, ClipFormat};
use crate::scenario::suite;
use crate::scenario::Method;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The manifest's format version.
pub const MANIFEST_VERSION: u32 = 1;
/// The manifest's file name in the folder.
pub const MANIFEST: &str = "manifest.json";

/// `manifest.json`.
#[derive(Serialize)]
struct Manifest {
    manifest_version: u32,
    tool: String,
    clips: Vec<ManifestClip>,
}

#[derive(Serialize)]
struct ManifestClip {
    name: String,
    sha256: String,
    format: ClipFormat,
    size: u64,
    fps: f64,
    frames: u32,
    width: u32,
    height: u32,
    /// The cases whose camera plays it.
    cases: Vec<String>,
}

pub(super) fn export(args: ClipsExportArgs) -> Result<Exit, CliError> {
    // The folder is checked first and made only once there is something to write: a run
    // never finds out at the end that its clips have nowhere to go.
    if let Ok(m) = std::fs::metadata(&args.dir) {
        if !m.is_dir() {
            return Err(CliError::bad_input(format!(
                "{}: not a folder",
                args.dir.display()
            )));
        }
    }
    let files = suite::scenario_files(&args.paths)?;
    let filter = args.selection.filter();
    let cases: Vec<_> = suite::load_all(&files, &args.selection.vars)?
        .into_iter()
        .filter(|c| filter.accepts(c) && c.chooses(Method::Face) && c.card.is_some())
        .collect();
    if cases.is_empty() {
        return Err(CliError::bad_input(format!(
            "no face case in {} file(s) after the filters: nothing to export",
            files.len()
        )));
    }
    std::fs::create_dir_all(&args.dir)
        .and_then(|()| common::fs::probe_folder(&args.dir))
        .map_err(|e| CliError::bad_input(format!("{}: {e}", args.dir.display())))?;
    let cards = crate::cards::load_cards(
        cases.iter().filter_map(crate::scenario::Case::card_key),
        &crate::cards::cached_photo,
    )?;
    let pool = crate::face::MatcherPool::new();
    let mut clips: BTreeMap<String, (ClipFile, Vec<String>)> = BTreeMap::new();
    for case in &cases {
        let card = case
            .card_key()
            .and_then(|k| cards.get(&k))
            .ok_or_else(|| CliError::bench(format!("{}: card not loaded", case.id)))?;
        let kit = crate::face::FaceKit::for_case(case, card, &pool)
            .map_err(|e| CliError::bench(format!("{}: {e}", case.id)))?;
        let clip = crate::reader::FaceCamera::clip(&kit, args.format)
            .map_err(|e| CliError::bench(format!("{}: {e}", case.id)))?;
        clips
            .entry(clip.name())
            .or_insert_with(|| (clip, Vec::new()))
            .1
            .push(case.id.clone());
    }
    let mut manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        tool: format!("myna-hil {}", super::version()),
        clips: Vec::new(),
    };
    for (name, (clip, cases)) in clips {
        write(&args.dir.join(&name), &clip.bytes)?;
        manifest.clips.push(ManifestClip {
            sha256: clip.sha256.clone(),
            format: clip.format,
            size: clip.size(),
            fps: clip.fps,
            frames: clip.frames,
            width: clip.width,
            height: clip.height,
            cases,
            name,
        });
    }
    let mut json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| CliError::bench(format!("manifest: {e}")))?;
    json.push(b'\n');
    write(&args.dir.join(MANIFEST), &json)?;
    say(format!(
        "{} clip(s) for {} face case(s) in {} ({})",
        manifest.clips.len(),
        cases.len(),
        args.dir.display(),
        MANIFEST
    ));
    Ok(Exit::Ok)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    common::fs::write_atomic(path, bytes)
        .map_err(|e| CliError::bench(format!("{}: {e}", path.display())))
}
