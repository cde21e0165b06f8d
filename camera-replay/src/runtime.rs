//! Finding and starting ONNX Runtime and the face models, without ever panicking.
//!
//! `ort` (load-dynamic) panics at first use when `libonnxruntime.so` cannot be loaded, so
//! everything here checks the files itself first and turns every problem into a
//! [`RuntimeError`] whose message names the path it tried and the command that fixes it.
//!
//! Where things are looked for:
//! - the library: `ORT_DYLIB_PATH` if set, else
//!   `<cache>/onnxruntime/1.31.1/libonnxruntime.so`;
//! - the models: `MYNA_HIL_MODELS` (a directory) if set, else `<cache>/models`;
//! - `<cache>` is `MYNA_HIL_CACHE` if set, else `$HOME/.cache/myna-hil`.
//!
//! `.ci/fetch-face-runtime` installs all of them (names, sizes and hashes must stay in sync
//! with the constants below).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

/// The command that installs the runtime and the models.
pub const FIX_COMMAND: &str = "bash .ci/fetch-face-runtime";
/// The command that sets up everything (runtime, models, photos, system packages).
pub const SETUP_COMMAND: &str = "bash .ci/setup";

/// The ONNX Runtime version the cache layout and `ort` =2.0.0-rc.15 expect.
pub const ORT_VERSION: &str = "1.31.1";
/// File name of the library inside `<cache>/onnxruntime/<version>/`.
pub const ORT_LIBRARY_FILE: &str = "libonnxruntime.so";

/// One model file the matcher needs, with what identifies the right one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    pub file: &'static str,
    /// Exact size in bytes: a cheap check that catches truncated downloads and the older
    /// 24 MB SFace of the same name.
    pub size: u64,
    /// SHA-256 of the file as published (checked by `.ci/fetch-face-runtime`); `None` for
    /// files derived locally.
    pub sha256: Option<&'static str>,
}

/// YuNet 2023mar (OpenCV zoo, MIT): input fixed at 1×3×640×640.
pub const YUNET: ModelSpec = ModelSpec {
    file: "face_detection_yunet_2023mar.onnx",
    size: 232_589,
    sha256: Some("8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"),
};

/// SFace 2021dec as published (Apache-2.0). The matcher prepares it for ONNX Runtime in
/// memory at load time (`matcher::prelu::prepare`); nothing derived from it is stored. A
/// `face_recognition_sface_2021dec.stripped.onnx` left in the cache by an older setup is
/// not used.
pub const SFACE: ModelSpec = ModelSpec {
    file: "face_recognition_sface_2021dec.onnx",
    size: 38_696_353,
    sha256: Some("0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"),
};

/// Everything that can stop the matcher from starting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "no cache directory: neither MYNA_HIL_CACHE nor HOME is set; set one, then run \
         `{FIX_COMMAND}` (or `{SETUP_COMMAND}`)"
    )]
    NoCacheDir,
    #[error(
        "ONNX Runtime library not found at {path} ({origin}); run `{FIX_COMMAND}` \
         (or `{SETUP_COMMAND}`) to install ONNX Runtime {ORT_VERSION}, or point ORT_DYLIB_PATH \
         at an existing libonnxruntime.so"
    )]
    LibraryMissing { path: PathBuf, origin: String },
    #[error(
        "ONNX Runtime library at {path} could not be loaded: {message}; run `{FIX_COMMAND}` \
         (or `{SETUP_COMMAND}`) to install ONNX Runtime {ORT_VERSION}"
    )]
    LibraryLoad { path: PathBuf, message: String },
    #[error(
        "face model {file} not found at {path} ({origin}); run `{FIX_COMMAND}` \
         (or `{SETUP_COMMAND}`)"
    )]
    ModelMissing {
        file: &'static str,
        path: PathBuf,
        origin: String,
    },
    #[error(
        "face model at {path} has {actual} bytes, expected {expected} (truncated or the wrong \
         file); delete it and run `{FIX_COMMAND}` (or `{SETUP_COMMAND}`)"
    )]
    ModelWrongSize {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("ONNX Runtime could not start a session for {path}: {message}")]
    Session { path: PathBuf, message: String },
}

/// Where the library and the models are, resolved from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimePaths {
    pub library: PathBuf,
    /// Says how `library` was chosen (for error messages).
    pub library_origin: String,
    pub models_dir: PathBuf,
    /// Says how `models_dir` was chosen (for error messages).
    pub models_origin: String,
}

fn non_empty(v: Option<OsString>) -> Option<OsString> {
    v.filter(|s| !s.is_empty())
}

impl RuntimePaths {
    /// Resolves the paths from the process environment.
    pub fn from_env() -> Result<RuntimePaths, RuntimeError> {
        Self::resolve(|name| std::env::var_os(name))
    }

    /// Resolves the paths from the variables `var` returns (`ORT_DYLIB_PATH`,
    /// `MYNA_HIL_MODELS`, `MYNA_HIL_CACHE`, `HOME`). Nothing is read from disk: see
    /// [`RuntimePaths::check`].
    pub fn resolve(var: impl Fn(&str) -> Option<OsString>) -> Result<RuntimePaths, RuntimeError> {
        let cache = || -> Result<(PathBuf, &'static str), RuntimeError> {
            if let Some(c) = non_empty(var("MYNA_HIL_CACHE")) {
                return Ok((PathBuf::from(c), "MYNA_HIL_CACHE"));
            }
            match non_empty(var("HOME")) {
                Some(h) => Ok((
                    PathBuf::from(h).join(".cache").join("myna-hil"),
                    "$HOME/.cache/myna-hil",
                )),
                None => Err(RuntimeError::NoCacheDir),
            }
        };
        let (library, library_origin) = match non_empty(var("ORT_DYLIB_PATH")) {
            Some(p) => (PathBuf::from(p), "from ORT_DYLIB_PATH".to_string()),
            None => {
                let (c, how) = cache()?;
                (
                    c.join("onnxruntime")
                        .join(ORT_VERSION)
                        .join(ORT_LIBRARY_FILE),
                    format!("the cache default, cache dir from {how}; ORT_DYLIB_PATH not set"),
                )
            }
        };
        let (models_dir, models_origin) = match non_empty(var("MYNA_HIL_MODELS")) {
            Some(p) => (PathBuf::from(p), "from MYNA_HIL_MODELS".to_string()),
            None => {
                let (c, how) = cache()?;
                (
                    c.join("models"),
                    format!("the cache default, cache dir from {how}; MYNA_HIL_MODELS not set"),
                )
            }
        };
        Ok(RuntimePaths {
            library,
            library_origin,
            models_dir,
            models_origin,
        })
    }

    /// Checks that the library and both models exist (models with their expected sizes).
    pub fn check(&self) -> Result<ModelFiles, RuntimeError> {
        if !self.library.is_file() {
            return Err(RuntimeError::LibraryMissing {
                path: self.library.clone(),
                origin: self.library_origin.clone(),
            });
        }
        let yunet = self.check_model(&YUNET)?;
        let sface = self.check_model(&SFACE)?;
        Ok(ModelFiles { yunet, sface })
    }

    fn check_model(&self, spec: &ModelSpec) -> Result<PathBuf, RuntimeError> {
        let path = self.models_dir.join(spec.file);
        let meta = match fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            _ => {
                return Err(RuntimeError::ModelMissing {
                    file: spec.file,
                    path,
                    origin: self.models_origin.clone(),
                })
            }
        };
        if meta.len() != spec.size {
            return Err(RuntimeError::ModelWrongSize {
                path,
                expected: spec.size,
                actual: meta.len(),
            });
        }
        Ok(path)
    }
}

/// The two model files, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    pub yunet: PathBuf,
    pub sface: PathBuf,
}

/// How ONNX Runtime sessions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Threads inside one operator (1 = everything on the calling thread).
    pub intra_threads: usize,
    /// Threads across independent operators (only with parallel execution; kept at 1).
    pub inter_threads: usize,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            intra_threads: 1,
            inter_threads: 1,
        }
    }
}

/// The process-wide ONNX Runtime environment. Only a success is kept, so a later call can
/// succeed after the runtime has been installed. `ort` loads one library per process: after
/// the first success, other library paths are ignored.
static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

/// Loads ONNX Runtime (once per process) after checking the library file exists.
pub fn environment(paths: &RuntimePaths) -> Result<Environment, RuntimeError> {
    let mut slot = ENVIRONMENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(env) = slot.as_ref() {
        return Ok(env.clone());
    }
    if !paths.library.is_file() {
        return Err(RuntimeError::LibraryMissing {
            path: paths.library.clone(),
            origin: paths.library_origin.clone(),
        });
    }
    // An absolute path: ort resolves relative ones against the executable (and may panic
    // when it cannot find it).
    let library = std::path::absolute(&paths.library).unwrap_or_else(|_| paths.library.clone());
    let load_error = |message: String| RuntimeError::LibraryLoad {
        path: library.clone(),
        message,
    };
    let builder = ort::init_from(&library).map_err(|e| load_error(e.to_string()))?;
    let env = builder
        .with_name("myna-hil")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_error(e.to_string()))?;
    *slot = Some(env.clone());
    Ok(env)
}

fn builder(
    env: &Environment,
    opts: &SessionOptions,
) -> Result<ort::session::builder::SessionBuilder, String> {
    let text = |e: ort::Error<ort::session::builder::SessionBuilder>| e.to_string();
    let b = Session::builder(env).map_err(|e| e.to_string())?;
    let b = b
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(text)?;
    let b = b
        .with_intra_threads(opts.intra_threads.max(1))
        .map_err(text)?;
    let b = b
        .with_inter_threads(opts.inter_threads.max(1))
        .map_err(text)?;
    let b = b.with_intra_op_spinning(false).map_err(text)?;
    b.with_inter_op_spinning(false).map_err(text)
}

/// Opens one model file as a session: graph optimisation on, spinning off, threads from
/// `opts`.
pub fn session(
    env: &Environment,
    model: &Path,
    opts: &SessionOptions,
) -> Result<Session, RuntimeError> {
    let fail = |message: String| RuntimeError::Session {
        path: model.to_path_buf(),
        message,
    };
    builder(env, opts)
        .map_err(fail)?
        .commit_from_file(model)
        .map_err(|e| fail(e.to_string()))
}

/// Like [`session`], for a model already in memory (`origin` names it in errors).
pub fn session_from_bytes(
    env: &Environment,
    model: &[u8],
    origin: &Path,
    opts: &SessionOptions,
) -> Result<Session, RuntimeError> {
    let fail = |message: String| RuntimeError::Session {
        path: origin.to_path_buf(),
        message,
    };
    builder(env, opts)
        .map_err(fail)?
        .commit_from_memory(model)
        .map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn cache_defaults_from_home() {
        let p = RuntimePaths::resolve(vars(&[("HOME", "/home/u")])).unwrap();
        assert_eq!(
            p.library,
            PathBuf::from("/home/u/.cache/myna-hil/onnxruntime/1.31.1/libonnxruntime.so")
        );
        assert_eq!(
            p.models_dir,
            PathBuf::from("/home/u/.cache/myna-hil/models")
        );
    }

    #[test]
    fn cache_env_overrides_home_and_explicit_paths_override_cache() {
        let p =
            RuntimePaths::resolve(vars(&[("HOME", "/home/u"), ("MYNA_HIL_CACHE", "/c")])).unwrap();
        assert_eq!(p.models_dir, PathBuf::from("/c/models"));
        let p = RuntimePaths::resolve(vars(&[
            ("MYNA_HIL_CACHE", "/c"),
            ("ORT_DYLIB_PATH", "/lib/x.so"),
            ("MYNA_HIL_MODELS", "/m"),
        ]))
        .unwrap();
        assert_eq!(p.library, PathBuf::from("/lib/x.so"));
        assert_eq!(p.models_dir, PathBuf::from("/m"));
        // Both given explicitly: no cache directory needed at all.
        let p = RuntimePaths::resolve(vars(&[
            ("ORT_DYLIB_PATH", "/lib/x.so"),
            ("MYNA_HIL_MODELS", "/m"),
        ]))
        .unwrap();
        assert_eq!(p.models_dir, PathBuf::from("/m"));
    }

    #[test]
    fn no_home_no_cache_is_an_error() {
        let e = RuntimePaths::resolve(vars(&[])).unwrap_err();
        assert_eq!(e, RuntimeError::NoCacheDir);
        assert!(e.to_string().contains(FIX_COMMAND));
    }

    #[test]
    fn missing_library_names_path_and_fix() {
        let dir = std::env::temp_dir().join("myna-hil-runtime-test-missing-lib");
        let p = RuntimePaths::resolve(vars(&[
            ("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so"),
            ("MYNA_HIL_MODELS", dir.to_str().unwrap()),
        ]))
        .unwrap();
        let e = p.check().unwrap_err();
        assert!(matches!(e, RuntimeError::LibraryMissing { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("/nonexistent/libonnxruntime.so"), "{msg}");
        assert!(msg.contains("bash .ci/fetch-face-runtime"), "{msg}");
        assert!(msg.contains("bash .ci/setup"), "{msg}");
        // Loading goes through the same check and never reaches ort.
        let e = environment(&p).err();
        if let Some(e) = e {
            assert!(matches!(e, RuntimeError::LibraryMissing { .. }));
        } // else: another test of this binary already loaded the runtime (kept process-wide).
    }

    #[test]
    fn missing_and_wrong_size_models_are_typed() {
        let dir =
            std::env::temp_dir().join(format!("myna-hil-runtime-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let lib = dir.join("libonnxruntime.so");
        fs::write(&lib, b"not really").unwrap();
        let p = RuntimePaths::resolve(vars(&[
            ("ORT_DYLIB_PATH", lib.to_str().unwrap()),
            ("MYNA_HIL_MODELS", dir.to_str().unwrap()),
        ]))
        .unwrap();
        let e = p.check().unwrap_err();
        match &e {
            RuntimeError::ModelMissing { file, path, .. } => {
                assert_eq!(*file, YUNET.file);
                assert_eq!(path, &dir.join(YUNET.file));
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains(FIX_COMMAND));
        fs::write(dir.join(YUNET.file), b"short").unwrap();
        let e = p.check().unwrap_err();
        assert!(
            matches!(
                e,
                RuntimeError::ModelWrongSize {
                    expected: 232_589,
                    actual: 5,
                    ..
                }
            ),
            "{e:?}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
