//! Local cache of third-party face photos for the chip-photo tests.
//!
//! The photos are not in the repository (they are not ours to commit);
//! `.ci/fetch-photos` downloads them into `<cache>/photos/`. Every lookup
//! checks the file's SHA-256, so a test never runs on a wrong file.

use std::path::{Path, PathBuf};

use super::PhotoError;

/// Environment variable that overrides the cache directory.
pub const CACHE_ENV: &str = "MYNA_HIL_CACHE";

/// The photos `.ci/fetch-photos` provides: file name and SHA-256 (hex).
/// Keep in sync with the table in that script.
pub const KNOWN_PHOTOS: &[(&str, &str)] = &[
    (
        "similarfaces-image1.jpg",
        "4c845decb4d3b3e983920439668cae5cc746184e27c62aed1f6f18e7a3132933",
    ),
    (
        "similarfaces-image2.jpg",
        "c035349bcb46c00148caab7c594c55d729b257a24beef40a7c95ed379c3a36af",
    ),
    (
        "similarfaces-image3.jpg",
        "81a163da8a4099e1003299a41729e1912bf394c4273b58459f101a0ca297f2a0",
    ),
    (
        "obama.jpg",
        "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
    ),
    (
        "obama2.jpg",
        "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
    ),
    (
        "obama3.jpg",
        "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
    ),
    (
        "biden.jpg",
        "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
    ),
];

/// Whose face each known photo shows: the ground truth the face-path oracle uses to know
/// whether the camera shows the chip photo's person. similarfaces 1 and 2 show one
/// (generated) face, 3 another; the face_recognition photos show two public figures.
pub const PERSON_OF_PHOTO: &[(&str, &str)] = &[
    ("similarfaces-image1.jpg", "similarfaces-a"),
    ("similarfaces-image2.jpg", "similarfaces-a"),
    ("similarfaces-image3.jpg", "similarfaces-b"),
    ("obama.jpg", "obama"),
    ("obama2.jpg", "obama"),
    ("obama3.jpg", "obama"),
    ("biden.jpg", "biden"),
];

/// The person a known photo shows.
pub fn person_of(photo: &str) -> Option<&'static str> {
    PERSON_OF_PHOTO
        .iter()
        .find(|(name, _)| *name == photo)
        .map(|(_, person)| *person)
}

/// `$MYNA_HIL_CACHE`, or `~/.cache/myna-hil` (the same rule as the script:
/// an empty variable counts as unset).
pub fn cache_dir() -> PathBuf {
    match std::env::var_os(CACHE_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        // Without HOME this is a relative path; the lookup then fails with
        // a "missing" error that names it.
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/myna-hil"),
    }
}

/// Path of a known photo in the cache, checked to exist with the right hash.
pub fn photo_path(name: &str) -> Result<PathBuf, PhotoError> {
    photo_path_in(&cache_dir(), name)
}

/// [`photo_path`] for an explicit cache directory.
pub fn photo_path_in(cache: &Path, name: &str) -> Result<PathBuf, PhotoError> {
    let expected = expected_sha256(name)?;
    let path = cache.join("photos").join(name);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(PhotoError::MissingPhoto {
                name: name.to_string(),
                path,
            });
        }
        Err(source) => return Err(PhotoError::ReadPhoto { path, source }),
    };
    let actual = hex::encode(openssl::sha::sha256(&bytes));
    if actual != expected {
        return Err(PhotoError::PhotoHashMismatch {
            path,
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(path)
}

fn expected_sha256(name: &str) -> Result<&'static str, PhotoError> {
    KNOWN_PHOTOS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, sha256)| *sha256)
        .ok_or_else(|| PhotoError::UnknownPhoto {
            name: name.to_string(),
            known: KNOWN_PHOTOS
                .iter()
                .map(|(known, _)| *known)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A fresh, empty cache directory under the system temp dir.
    struct TempCache(PathBuf);

    impl TempCache {
        fn new() -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "myna-hil-photo-cache-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("photos")).expect("create temp cache");
            TempCache(dir)
        }

        fn put(&self, name: &str, bytes: &[u8]) {
            std::fs::write(self.0.join("photos").join(name), bytes).expect("write temp photo");
        }
    }

    impl Drop for TempCache {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let cache = TempCache::new();
        let err = photo_path_in(&cache.0, "putin.jpg").expect_err("unknown name");
        assert!(matches!(err, PhotoError::UnknownPhoto { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("putin.jpg"), "{text}");
        for (known, _) in KNOWN_PHOTOS {
            assert!(text.contains(known), "{known} missing from: {text}");
        }
    }

    #[test]
    fn missing_file_says_how_to_fetch() {
        let cache = TempCache::new();
        let err = photo_path_in(&cache.0, "obama.jpg").expect_err("empty cache");
        assert!(matches!(err, PhotoError::MissingPhoto { .. }), "{err:?}");
        assert!(err.to_string().contains("run .ci/fetch-photos"), "{err}");
    }

    #[test]
    fn hash_mismatch_is_detected() {
        let cache = TempCache::new();
        cache.put("obama.jpg", b"not the photo");
        let err = photo_path_in(&cache.0, "obama.jpg").expect_err("wrong bytes");
        let PhotoError::PhotoHashMismatch {
            expected, actual, ..
        } = &err
        else {
            panic!("expected a hash mismatch, got {err:?}");
        };
        assert_eq!(expected, KNOWN_PHOTOS[3].1);
        assert_eq!(actual, &hex::encode(openssl::sha::sha256(b"not the photo")));
        assert!(err.to_string().contains("run .ci/fetch-photos"), "{err}");
    }

    #[test]
    fn every_known_photo_has_a_person() {
        for (name, _) in KNOWN_PHOTOS {
            assert!(person_of(name).is_some(), "{name} has no person");
        }
        assert_eq!(person_of("obama2.jpg"), person_of("obama3.jpg"));
        assert_ne!(person_of("obama.jpg"), person_of("biden.jpg"));
        assert_ne!(
            person_of("similarfaces-image1.jpg"),
            person_of("similarfaces-image3.jpg")
        );
        assert_eq!(person_of("putin.jpg"), None);
    }

    #[test]
    fn table_is_well_formed() {
        for (i, (name, sha256)) in KNOWN_PHOTOS.iter().enumerate() {
            assert_eq!(sha256.len(), 64, "{name}");
            assert!(hex::decode(sha256).is_ok(), "{name}");
            assert!(
                KNOWN_PHOTOS[..i].iter().all(|(other, _)| other != name),
                "{name} listed twice"
            );
        }
    }
}
