//! Any video ffmpeg reads (MP4/H.264, MKV, WebM, AVI with other codecs, …), decoded by the
//! `ffmpeg` program as a subprocess.
//!
//! Why a subprocess and not a library binding: linking libav* at build time (`ffmpeg-next`
//! and friends) ties the build to the exact FFmpeg headers on the build machine — Debian 12
//! ships FFmpeg 5.1, which only some `ffmpeg-sys` versions build against, and every build
//! machine and CI image would need the `-dev` packages and clang for bindgen. The `ffmpeg`
//! and `ffprobe` binaries have a stable command line, read every container and codec the
//! installed FFmpeg knows, keep a crashing decoder out of our process, and are one
//! `apt-get install ffmpeg` away (`bash .ci/setup`). The cost is a pipe copy of each raw
//! frame, small next to decoding.
//!
//! How: `ffprobe` gives the first video stream's size, rate and frame count, and the
//! presentation times of its packets (sorted: B-frames arrive out of order); then
//! `ffmpeg -noautorotate -i FILE -map 0:v:0 -vsync passthrough -f rawvideo -pix_fmt rgb24 -`
//! streams the decoded frames, each `width·height·3` bytes. Frame `i` is stamped with the
//! `i`-th presentation time relative to the first (or `i / rate` past the known times).
//! A decoder error inside the stream is concealed by ffmpeg, not reported per frame; a stream
//! that ends in the middle of a frame, or an ffmpeg that exits with an error, gives one `Err`
//! (with ffmpeg's message) at the end.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{read_up_to, FrameSource, SourceError, SourceOptions, MAX_FRAME_PIXELS};
use crate::frame::{Frame, RgbImage};

/// Frames decoded by an `ffmpeg` subprocess.
pub struct FfmpegSource {
    path: PathBuf,
    child: Child,
    stdout: ChildStdout,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_thread: Option<std::thread::JoinHandle<()>>,
    width: u32,
    height: u32,
    fps: f64,
    codec: String,
    count: Option<u64>,
    pts: Vec<f64>,
    index: u64,
    done: bool,
}

/// Runs a program, mapping "not found" to [`SourceError::FfmpegMissing`].
fn run(
    program: &Path,
    args: &[&std::ffi::OsStr],
    path: &Path,
) -> Result<std::process::Output, SourceError> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(program, path, e))
}

fn spawn_error(program: &Path, path: &Path, e: std::io::Error) -> SourceError {
    if e.kind() == std::io::ErrorKind::NotFound {
        SourceError::FfmpegMissing {
            path: path.to_path_buf(),
            program: program.display().to_string(),
        }
    } else {
        SourceError::Ffmpeg {
            path: path.to_path_buf(),
            reason: format!("cannot run {}: {e}", program.display()),
        }
    }
}

fn parse_rate(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
    (n > 0.0 && d > 0.0).then(|| n / d)
}

impl FfmpegSource {
    pub fn open(path: &Path, options: &SourceOptions) -> Result<FfmpegSource, SourceError> {
        if !path.is_file() {
            return Err(match std::fs::metadata(path) {
                Err(e) => SourceError::io(path, e),
                Ok(_) => SourceError::unsupported(path, "not a file"),
            });
        }
        let os = |s: &'static str| std::ffi::OsStr::new(s);
        let probe = run(
            &options.ffprobe,
            &[
                os("-v"),
                os("error"),
                os("-select_streams"),
                os("v:0"),
                os("-show_entries"),
                os("stream=codec_name,width,height,avg_frame_rate,r_frame_rate,nb_frames"),
                os("-of"),
                os("default=noprint_wrappers=1"),
                path.as_os_str(),
            ],
            path,
        )?;
        if !probe.status.success() {
            return Err(SourceError::unsupported(
                path,
                format!(
                    "ffprobe cannot read it: {}",
                    String::from_utf8_lossy(&probe.stderr).trim()
                ),
            ));
        }
        let text = String::from_utf8_lossy(&probe.stdout);
        let mut fields = std::collections::HashMap::new();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                fields
                    .entry(k.trim().to_string())
                    .or_insert_with(|| v.trim().to_string());
            }
        }
        let dim = |k: &str| {
            fields
                .get(k)
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        };
        let (width, height) = (dim("width"), dim("height"));
        if width == 0 || height == 0 {
            return Err(SourceError::unsupported(path, "no video stream"));
        }
        if width as u64 * height as u64 > MAX_FRAME_PIXELS {
            return Err(SourceError::malformed(
                path,
                format!("implausible frame size {width}×{height}"),
            ));
        }
        let fps = fields
            .get("avg_frame_rate")
            .and_then(|r| parse_rate(r))
            .or_else(|| fields.get("r_frame_rate").and_then(|r| parse_rate(r)))
            .unwrap_or(25.0);
        let count = fields.get("nb_frames").and_then(|v| v.parse::<u64>().ok());
        let codec = fields.get("codec_name").cloned().unwrap_or_default();

        // Packet presentation times (no decoding needed).
        let packets = run(
            &options.ffprobe,
            &[
                os("-v"),
                os("error"),
                os("-select_streams"),
                os("v:0"),
                os("-show_entries"),
                os("packet=pts_time"),
                os("-of"),
                os("csv=p=0"),
                path.as_os_str(),
            ],
            path,
        )?;
        let mut pts: Vec<f64> = String::from_utf8_lossy(&packets.stdout)
            .lines()
            .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .collect();
        pts.sort_by(|a, b| a.total_cmp(b));

        let mut child = Command::new(&options.ffmpeg)
            .args(["-nostdin", "-v", "error", "-noautorotate", "-i"])
            .arg(path)
            .args([
                "-map",
                "0:v:0",
                "-vsync",
                "passthrough",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error(&options.ffmpeg, path, e))?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let mut stderr_pipe = child.stderr.take().expect("stderr was piped");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let stderr_thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                if s.len() < 64 * 1024 {
                    s.extend_from_slice(&buf[..n]);
                }
            }
        });
        Ok(FfmpegSource {
            path: path.to_path_buf(),
            child,
            stdout,
            stderr,
            stderr_thread: Some(stderr_thread),
            width,
            height,
            fps,
            codec,
            count,
            pts,
            index: 0,
            done: false,
        })
    }

    fn timestamp(&self, index: u64) -> Duration {
        let secs = match self.pts.get(index as usize) {
            Some(t) => t - self.pts[0],
            None => match self.pts.last() {
                Some(last) => {
                    last - self.pts[0] + (index + 1 - self.pts.len() as u64) as f64 / self.fps
                }
                None => index as f64 / self.fps,
            },
        };
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// Waits for ffmpeg and returns its complaint, if it failed.
    fn finish_child(&mut self) -> Option<String> {
        let status = self.child.wait().ok();
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        let err = String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|p| p.into_inner()))
            .trim()
            .to_string();
        match status {
            Some(s) if s.success() => None,
            Some(s) => Some(if err.is_empty() {
                format!("exited with {s}")
            } else {
                format!("exited with {s}: {err}")
            }),
            None => Some("could not wait for ffmpeg".into()),
        }
    }
}

impl FrameSource for FfmpegSource {
    fn next_frame(&mut self) -> Option<Result<Frame, SourceError>> {
        if self.done {
            return None;
        }
        let len = self.width as usize * self.height as usize * 3;
        let mut buf = vec![0u8; len];
        let n = match read_up_to(&mut self.stdout, &mut buf) {
            Ok(n) => n,
            Err(e) => {
                self.done = true;
                let _ = self.child.kill();
                let _ = self.finish_child();
                return Some(Err(SourceError::Ffmpeg {
                    path: self.path.clone(),
                    reason: format!("reading decoded frames: {e}"),
                }));
            }
        };
        let index = self.index;
        if n == len {
            self.index += 1;
            let image = RgbImage::from_raw(self.width, self.height, buf).expect("sized buffer");
            return Some(Ok(Frame {
                index,
                timestamp: self.timestamp(index),
                image,
            }));
        }
        self.done = true;
        let failure = self.finish_child();
        match (n, failure) {
            (0, None) => None,
            (0, Some(reason)) => Some(Err(SourceError::Ffmpeg {
                path: self.path.clone(),
                reason,
            })),
            (n, reason) => Some(Err(SourceError::frame(
                &self.path,
                index,
                format!(
                    "decoded frame cut short ({n} of {len} bytes){}",
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                ),
            ))),
        }
    }

    fn frame_rate(&self) -> f64 {
        self.fps
    }

    fn frame_size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn describe(&self) -> String {
        format!(
            "ffmpeg {} ({} {}×{} at {:.3} fps{})",
            self.path.display(),
            self.codec,
            self.width,
            self.height,
            self.fps,
            self.count
                .map(|n| format!(", {n} frames"))
                .unwrap_or_default()
        )
    }

    fn frame_count(&self) -> Option<u64> {
        self.count.or(if self.pts.is_empty() {
            None
        } else {
            Some(self.pts.len() as u64)
        })
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        if self.stderr_thread.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            if let Some(t) = self.stderr_thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates() {
        assert_eq!(
            parse_rate("30000/1001").map(|r| (r * 1000.0).round()),
            Some(29970.0)
        );
        assert_eq!(parse_rate("15/1"), Some(15.0));
        assert_eq!(parse_rate("0/0"), None);
    }
}
