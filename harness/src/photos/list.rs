//! The cached photos as rows for `myna-hil photos` (or any caller): each known photo, whose
//! face it shows, its SHA-256, and what the cache holds of it. No printing here.

use super::{photo_path_in, PhotoError, KNOWN_PHOTOS, PERSON_OF_PHOTO};
use std::path::{Path, PathBuf};

/// What the cache holds of one photo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cached {
    /// The file is there with the right SHA-256.
    Present(PathBuf),
    /// No file (run `.ci/fetch-photos`).
    Missing(PathBuf),
    /// A file with another SHA-256, or one that cannot be read.
    Wrong(PathBuf),
}

impl Cached {
    /// The usable path, if the photo is present and right.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Cached::Present(p) => Some(p),
            _ => None,
        }
    }
}

/// One known photo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoRow {
    pub name: &'static str,
    /// Whose face it shows (the face oracle's label).
    pub person: &'static str,
    /// The SHA-256 it must have (hex).
    pub sha256: &'static str,
    pub cached: Cached,
}

/// Every known photo, in the table's order, as the cache at `cache` holds it.
pub fn photo_rows_in(cache: &Path) -> Vec<PhotoRow> {
    KNOWN_PHOTOS
        .iter()
        .map(|(name, sha256)| {
            let person = PERSON_OF_PHOTO
                .iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, p)| p);
            let path = cache.join("photos").join(name);
            let cached = match photo_path_in(cache, name) {
                Ok(p) => Cached::Present(p),
                Err(PhotoError::MissingPhoto { .. }) => Cached::Missing(path),
                Err(_) => Cached::Wrong(path),
            };
            PhotoRow {
                name,
                person,
                sha256,
                cached,
            }
        })
        .collect()
}

/// [`photo_rows_in`] for the cache of this run (`$MYNA_HIL_CACHE` or `~/.cache/myna-hil`).
pub fn photo_rows() -> Vec<PhotoRow> {
    photo_rows_in(&super::cache_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_say_whose_face_and_what_the_cache_holds() {
        let cache =
            std::env::temp_dir().join(format!("myna-hil-photo-rows-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::create_dir_all(cache.join("photos")).unwrap();
        std::fs::write(cache.join("photos/biden.jpg"), b"not biden").unwrap();

        let rows = photo_rows_in(&cache);
        assert_eq!(rows.len(), KNOWN_PHOTOS.len());
        let obama = rows.iter().find(|r| r.name == "obama.jpg").unwrap();
        assert_eq!(obama.person, "obama");
        assert_eq!(obama.sha256.len(), 64);
        assert_eq!(
            obama.cached,
            Cached::Missing(cache.join("photos/obama.jpg"))
        );
        let biden = rows.iter().find(|r| r.name == "biden.jpg").unwrap();
        assert_eq!(biden.cached, Cached::Wrong(cache.join("photos/biden.jpg")));
        assert!(rows
            .iter()
            .all(|r| !r.person.is_empty() && r.cached.path().is_none()));
        let _ = std::fs::remove_dir_all(&cache);
    }
}
