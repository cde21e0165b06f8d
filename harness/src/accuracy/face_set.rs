//! A face set on disk: one folder per person holding JPEG, PNG or PNM images (the layout of
//! LFW and of most face datasets), and the comparisons to run on it: the pairs of an LFW
//! View 2 pairs file, or every genuine pair plus a seeded sample of impostor pairs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One image of the set.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FaceImage {
    pub person: String,
    /// File name inside the person's folder, e.g. `0001.jpg`.
    pub file: String,
}

/// Every image of a set, by person (sorted, so runs are reproducible).
#[derive(Debug)]
pub struct FaceSet {
    pub root: PathBuf,
    pub people: Vec<(String, Vec<String>)>,
}

/// Two images to compare, and whether they show the same person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub a: FaceImage,
    pub b: FaceImage,
    pub genuine: bool,
    /// The pairs file's fold (1-based), for pairs read from one.
    pub fold: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum FaceSetError {
    #[error("cannot read the face set {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Input {
        path: PathBuf,
        source: crate::yaml::InputError,
    },
    #[error("{path}: no person folder with images (expected <person>/<image>.jpg|png|pnm)")]
    Empty { path: PathBuf },
    #[error("{path}:{line}:{column}: {message}")]
    Pairs {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "pnm", "ppm", "pgm"];

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

impl FaceSet {
    pub fn open(root: &Path) -> Result<FaceSet, FaceSetError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| FaceSetError::Io { path, source }
        };
        let mut people = Vec::new();
        for entry in std::fs::read_dir(root).map_err(io(root))? {
            let dir = entry.map_err(io(root))?.path();
            if !dir.is_dir() {
                continue;
            }
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .map_err(io(&dir))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image(p))
                .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
                .collect();
            if files.is_empty() {
                continue;
            }
            files.sort();
            let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            people.push((name.to_owned(), files));
        }
        if people.is_empty() {
            return Err(FaceSetError::Empty {
                path: root.to_path_buf(),
            });
        }
        people.sort();
        Ok(FaceSet {
            root: root.to_path_buf(),
            people,
        })
    }

    pub fn image_count(&self) -> usize {
        self.people.iter().map(|(_, f)| f.len()).sum()
    }

    pub fn path_of(&self, image: &FaceImage) -> PathBuf {
        self.root.join(&image.person).join(&image.file)
    }

    /// Every pair of images of the same person.
    pub fn genuine_pairs(&self) -> Vec<Pair> {
        let mut out = Vec::new();
        for (person, files) in &self.people {
            for (i, a) in files.iter().enumerate() {
                for b in &files[i + 1..] {
                    out.push(Pair {
                        a: image(person, a),
                        b: image(person, b),
                        genuine: true,
                        fold: None,
                    });
                }
            }
        }
        out
    }

    /// `count` distinct pairs of images of two different people, drawn with `seed`
    /// (the workspace's SplitMix64 stream, so a seed gives the same pairs on every machine).
    pub fn impostor_pairs(&self, count: usize, seed: u64) -> Vec<Pair> {
        let images: Vec<FaceImage> = self
            .people
            .iter()
            .flat_map(|(p, files)| files.iter().map(move |f| image(p, f)))
            .collect();
        let people = self.people.len();
        let possible = images.len() * images.len().saturating_sub(1) / 2;
        let want = count.min(possible.saturating_sub(self.genuine_pairs().len()));
        if people < 2 {
            return Vec::new();
        }
        let mut rng = common::rng::Rng::new(seed);
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(want);
        while out.len() < want {
            let i = rng.below(images.len() as u64) as usize;
            let j = rng.below(images.len() as u64) as usize;
            let (i, j) = (i.min(j), i.max(j));
            if images[i].person == images[j].person || !seen.insert((i, j)) {
                continue;
            }
            out.push(Pair {
                a: images[i].clone(),
                b: images[j].clone(),
                genuine: false,
                fold: None,
            });
        }
        out
    }

    /// The pairs of an LFW View 2 pairs file: a header `folds<TAB>n`, then per fold `n`
    /// lines `name<TAB>i<TAB>j` (genuine) and `n` lines `name1<TAB>i<TAB>name2<TAB>j`
    /// (impostor), image numbers being the files `NNNN.<ext>` of each person's folder.
    pub fn read_pairs(&self, path: &Path) -> Result<Vec<Pair>, FaceSetError> {
        let text = crate::yaml::read_input(path).map_err(|source| FaceSetError::Input {
            path: path.to_path_buf(),
            source,
        })?;
        let error = |line: usize, column: usize, message: String| FaceSetError::Pairs {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        let mut out = Vec::new();
        let mut lines = text.lines().enumerate();
        let (folds, per_fold) = match lines.next().map(|(_, l)| fields(l)) {
            Some(f) if f.len() == 2 => match (f[0].1.parse::<usize>(), f[1].1.parse::<usize>()) {
                (Ok(a), Ok(b)) => (a, b),
                _ => {
                    return Err(error(
                        1,
                        1,
                        "header must be `<folds> <pairs per fold>`".into(),
                    ))
                }
            },
            _ => {
                return Err(error(
                    1,
                    1,
                    "header must be `<folds> <pairs per fold>`".into(),
                ))
            }
        };
        for (index, line) in lines {
            let number = index + 1;
            if line.trim().is_empty() {
                continue;
            }
            let f = fields(line);
            let num = |k: usize| {
                let (col, text) = f[k];
                text.parse::<u32>()
                    .map_err(|_| error(number, col, format!("`{text}` is not an image number")))
            };
            let (a, b) = match f.len() {
                3 => ((f[0].1, num(1)?), (f[0].1, num(2)?)),
                4 => ((f[0].1, num(1)?), (f[2].1, num(3)?)),
                n => {
                    return Err(error(
                        number,
                        1,
                        format!("{n} fields; expected 3 (same person) or 4 (two people)"),
                    ))
                }
            };
            let a = self.numbered(a.0, a.1).ok_or_else(|| {
                error(
                    number,
                    1,
                    format!("no image {} of `{}` in the set", a.1, a.0),
                )
            })?;
            let b_col = if f.len() == 4 { f[2].0 } else { 1 };
            let b = self.numbered(b.0, b.1).ok_or_else(|| {
                error(
                    number,
                    b_col,
                    format!("no image {} of `{}` in the set", b.1, b.0),
                )
            })?;
            out.push(Pair {
                genuine: f.len() == 3,
                a,
                b,
                fold: Some((out.len() / (2 * per_fold.max(1))) as u32 + 1),
            });
        }
        if out.len() != folds * per_fold * 2 {
            return Err(error(
                1,
                1,
                format!(
                    "header promises {folds} folds of {per_fold} + {per_fold} pairs, the file has {}",
                    out.len()
                ),
            ));
        }
        Ok(out)
    }

    /// Image number `n` of `person`: the file whose stem is `n` (zero-padded or not).
    fn numbered(&self, person: &str, n: u32) -> Option<FaceImage> {
        let i = self
            .people
            .binary_search_by(|(p, _)| p.as_str().cmp(person))
            .ok()?;
        let file = self.people[i].1.iter().find(|f| {
            Path::new(f)
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.rsplit('_').next())
                .and_then(|s| s.parse::<u32>().ok())
                == Some(n)
        })?;
        Some(image(person, file))
    }
}

fn image(person: &str, file: &str) -> FaceImage {
    FaceImage {
        person: person.to_owned(),
        file: file.to_owned(),
    }
}

/// Whitespace-separated fields with their 1-based columns.
fn fields(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push((s + 1, &line[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s + 1, &line[s..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_set(layout: &[(&str, &[&str])]) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "myna-hil-face-set-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for (person, files) in layout {
            std::fs::create_dir_all(dir.join(person)).unwrap();
            for f in *files {
                std::fs::write(dir.join(person).join(f), b"x").unwrap();
            }
        }
        dir
    }

    #[test]
    fn genuine_and_impostor_pairs() {
        let dir = temp_set(&[
            ("Ann", &["0001.jpg", "0002.jpg", "0003.jpg"]),
            ("Bob", &["0001.jpg", "notes.txt"]),
            ("Cy", &["0001.png", "0002.png"]),
        ]);
        let set = FaceSet::open(&dir).unwrap();
        assert_eq!(set.image_count(), 6);
        assert_eq!(set.genuine_pairs().len(), 3 + 1);
        let impostors = set.impostor_pairs(100, 7);
        // 15 pairs in all, 4 genuine: 11 impostor pairs exist.
        assert_eq!(impostors.len(), 11);
        assert!(impostors
            .iter()
            .all(|p| !p.genuine && p.a.person != p.b.person));
        assert_eq!(set.impostor_pairs(5, 7), set.impostor_pairs(5, 7));
        assert_ne!(set.impostor_pairs(5, 7), set.impostor_pairs(5, 8));
    }

    #[test]
    fn a_pairs_file_is_read_and_its_mistakes_located() {
        let dir = temp_set(&[
            ("Ann_Lee", &["0001.jpg", "0004.jpg"]),
            ("Bob", &["0001.jpg"]),
        ]);
        let set = FaceSet::open(&dir).unwrap();
        let pairs = dir.join("pairs.txt");
        std::fs::write(&pairs, "1\t1\nAnn_Lee\t1\t4\nAnn_Lee\t4\tBob\t1\n").unwrap();
        let read = set.read_pairs(&pairs).unwrap();
        assert_eq!(read.len(), 2);
        assert!(read[0].genuine && !read[1].genuine);
        assert_eq!(read[1].b.file, "0001.jpg");

        std::fs::write(&pairs, "1\t1\nAnn_Lee\t1\t4\nAnn_Lee\t4\tBob\t2\n").unwrap();
        let e = set.read_pairs(&pairs).unwrap_err().to_string();
        assert!(
            e.ends_with("pairs.txt:3:11: no image 2 of `Bob` in the set"),
            "{e}"
        );
        std::fs::write(&pairs, "1\t1\nAnn_Lee\tone\t4\n").unwrap();
        let e = set.read_pairs(&pairs).unwrap_err().to_string();
        assert!(e.contains(":2:9: `one` is not an image number"), "{e}");
        std::fs::write(&pairs, "2\t1\nAnn_Lee\t1\t4\nAnn_Lee\t4\tBob\t1\n").unwrap();
        let e = set.read_pairs(&pairs).unwrap_err().to_string();
        assert!(e.contains("header promises 2 folds"), "{e}");
    }

    #[test]
    fn an_empty_folder_is_an_error() {
        let dir = temp_set(&[]);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(
            FaceSet::open(&dir),
            Err(FaceSetError::Empty { .. })
        ));
    }
}
