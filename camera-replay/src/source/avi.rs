//! Motion-JPEG in AVI: a RIFF parser, a frame reader and a writer.
//!
//! The reader takes the first video stream (`strh` type `vids`) of `hdrl`: its size from
//! `strf` (else `avih`), its rate from `strh` `dwRate/dwScale` (else `avih`
//! `dwMicroSecPerFrame`). Frames are the `NNdc`/`NNdb` chunks of that stream in every `movi`
//! list, the first RIFF's and those of OpenDML `AVIX` parts; `LIST rec ` groups are entered,
//! other streams' chunks, `JUNK` and OpenDML `ix##` indexes are skipped. Each chunk is one
//! JPEG; JPEGs without Huffman tables (the "AVI1" Motion-JPEG of many webcams) get the
//! standard tables. A zero-length video chunk means "the previous frame again" (how AVI
//! writers mark duplicated frames) and yields the previous image with the new timestamp.
//!
//! With a usable `idx1` (and no `AVIX` part) frames are read through the index, so a garbled
//! chunk costs exactly its own frame (`Err` for that frame number) and timestamps stay exact.
//! Without one the reader walks the chunks; a garbled chunk header is an `Err` and the reader
//! searches forward for the next chunk of the video stream. A chunk cut short by the end of
//! the file is an `Err` and the end of the stream.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{timestamp_at, FrameSource, SourceError, MAX_FRAME_PIXELS};
use crate::codec::decode_jpeg;

/// The standard-table insertion moved to [`crate::codec`] (the one JPEG decoding path); its
/// old path stays.
pub use crate::codec::insert_default_huffman_tables;
use crate::frame::{Frame, RgbImage};

/// The largest chunk (one JPEG) the reader will read: 64 MiB.
const MAX_CHUNK: u64 = 64 << 20;
/// The largest `hdrl` list the reader will parse.
const MAX_HDRL: u64 = 1 << 20;

/// Codec four-character codes read as Motion-JPEG.
pub fn is_mjpeg_fourcc(fourcc: &[u8; 4]) -> bool {
    let mut upper = *fourcc;
    upper.make_ascii_uppercase();
    matches!(
        &upper,
        b"MJPG" | b"JPEG" | b"AVRN" | b"LJPG" | b"DMB1" | b"AVDJ" | b"MJPA"
    )
}

#[derive(Debug, Clone)]
struct VideoStream {
    /// Stream number (the `NN` of `NNdc`).
    number: u32,
    codec: [u8; 4],
    width: u32,
    height: u32,
    /// Frames per second = rate / scale.
    rate: u64,
    scale: u64,
    length: u64,
}

#[derive(Debug, Clone)]
struct AviLayout {
    video: VideoStream,
    /// Byte ranges of `movi` list contents (after the `movi` four-character code); the first
    /// value of each pair is also where `idx1` offsets count from (minus 4).
    movi: Vec<(u64, u64)>,
    /// `idx1` contents: (file offset, length).
    idx1: Option<(u64, u64)>,
    /// Whether OpenDML `AVIX` parts follow the first RIFF.
    has_avix: bool,
}

fn u32le(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

fn fourcc(b: &[u8], at: usize) -> [u8; 4] {
    b.get(at..at + 4)
        .map(|s| [s[0], s[1], s[2], s[3]])
        .unwrap_or([0; 4])
}

fn read_exact_at(r: &mut (impl Read + Seek), pos: u64, buf: &mut [u8]) -> io::Result<()> {
    r.seek(SeekFrom::Start(pos))?;
    r.read_exact(buf)
}

/// Parses the RIFF structure far enough to find the video stream and the `movi` lists.
fn parse_layout(file: &mut (impl Read + Seek), file_len: u64) -> Result<AviLayout, String> {
    let mut head = [0u8; 12];
    read_exact_at(file, 0, &mut head).map_err(|_| "shorter than a RIFF header".to_string())?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"AVI " {
        return Err("not a RIFF AVI file".into());
    }
    let riff_size = u32le(&head, 4) as u64;
    // A recording that was never finished may leave the size 0: take the whole file.
    let riff_end = if riff_size == 0 {
        file_len
    } else {
        (8 + riff_size).min(file_len)
    };
    let mut video: Option<VideoStream> = None;
    let mut movi = Vec::new();
    let mut idx1 = None;
    let mut pos = 12u64;
    while pos + 8 <= riff_end {
        let mut ch = [0u8; 12];
        let n = {
            file.seek(SeekFrom::Start(pos)).map_err(|e| e.to_string())?;
            super::read_up_to(file, &mut ch).map_err(|e| e.to_string())?
        };
        if n < 8 {
            break;
        }
        let id = fourcc(&ch, 0);
        let size = u32le(&ch, 4) as u64;
        let data = pos + 8;
        let end = (data + size).min(riff_end);
        if &id == b"LIST" && n >= 12 {
            let kind = fourcc(&ch, 8);
            if &kind == b"hdrl" {
                let len = end.saturating_sub(data + 4);
                if len > MAX_HDRL {
                    return Err(format!("hdrl list of {len} bytes is implausible"));
                }
                let mut buf = vec![0u8; len as usize];
                read_exact_at(file, data + 4, &mut buf)
                    .map_err(|_| "hdrl list cut short".to_string())?;
                video = parse_hdrl(&buf)?;
            } else if &kind == b"movi" {
                // An unfinished recording may claim a size of 0: the frames run to the end.
                if size <= 4 {
                    movi.push((data + 4, riff_end));
                    break;
                }
                movi.push((data + 4, end));
            }
        } else if &id == b"idx1" {
            idx1 = Some((data, end - data));
        }
        pos = data + size + (size & 1);
    }
    // OpenDML: further `RIFF AVIX` parts, each with its own `movi` list.
    let mut has_avix = false;
    let mut pos = riff_end + (riff_end & 1);
    while pos + 24 <= file_len {
        let mut ch = [0u8; 24];
        if read_exact_at(file, pos, &mut ch).is_err() {
            break;
        }
        if &ch[0..4] != b"RIFF" || &ch[8..12] != b"AVIX" {
            break;
        }
        let part_end = (pos + 8 + u32le(&ch, 4) as u64).min(file_len);
        if &ch[12..16] == b"LIST" && &ch[20..24] == b"movi" {
            let size = u32le(&ch, 16) as u64;
            movi.push((pos + 24, (pos + 20 + size).min(part_end)));
            has_avix = true;
        }
        pos = part_end + (part_end & 1);
    }
    let video = video.ok_or("no video stream in the AVI header")?;
    if movi.is_empty() {
        return Err("no movi list (no frames)".into());
    }
    Ok(AviLayout {
        video,
        movi,
        idx1,
        has_avix,
    })
}

/// Parses `hdrl` contents (after the list type) for the first video stream.
fn parse_hdrl(b: &[u8]) -> Result<Option<VideoStream>, String> {
    let mut avih: Option<(u32, u32, u32)> = None; // usec per frame, width, height
    let mut stream_no = 0u32;
    let mut video = None;
    let mut pos = 0usize;
    while pos + 8 <= b.len() {
        let id = fourcc(b, pos);
        let size = u32le(b, pos + 4) as usize;
        let data = pos + 8;
        let end = data.saturating_add(size).min(b.len());
        match &id {
            b"avih" if end - data >= 40 => {
                avih = Some((u32le(b, data), u32le(b, data + 32), u32le(b, data + 36)));
            }
            b"LIST" if end - data >= 4 && &fourcc(b, data) == b"strl" => {
                if video.is_none() {
                    video = parse_strl(&b[data + 4..end], stream_no);
                }
                stream_no += 1;
            }
            _ => {}
        }
        pos = data.saturating_add(size).saturating_add(size & 1);
    }
    let Some(mut v) = video else {
        return Ok(None);
    };
    if let Some((usec, w, h)) = avih {
        if v.width == 0 || v.height == 0 {
            (v.width, v.height) = (w, h);
        }
        if (v.rate == 0 || v.scale == 0) && usec > 0 {
            (v.rate, v.scale) = (1_000_000, usec as u64);
        }
    }
    if v.width == 0 || v.height == 0 || v.width as u64 * v.height as u64 > MAX_FRAME_PIXELS {
        return Err(format!("implausible frame size {}×{}", v.width, v.height));
    }
    if v.rate == 0 || v.scale == 0 {
        return Err("the header gives no frame rate".into());
    }
    Ok(Some(v))
}

fn parse_strl(b: &[u8], number: u32) -> Option<VideoStream> {
    let mut pos = 0usize;
    let mut v: Option<VideoStream> = None;
    while pos + 8 <= b.len() {
        let id = fourcc(b, pos);
        let size = u32le(b, pos + 4) as usize;
        let data = pos + 8;
        let end = data.saturating_add(size).min(b.len());
        match &id {
            b"strh" if end - data >= 36 => {
                if &fourcc(b, data) != b"vids" {
                    return None;
                }
                v = Some(VideoStream {
                    number,
                    codec: fourcc(b, data + 4),
                    width: 0,
                    height: 0,
                    scale: u32le(b, data + 20) as u64,
                    rate: u32le(b, data + 24) as u64,
                    length: u32le(b, data + 32) as u64,
                });
            }
            b"strf" if end - data >= 20 => {
                if let Some(v) = v.as_mut() {
                    v.width = (u32le(b, data + 4) as i32).unsigned_abs();
                    v.height = (u32le(b, data + 8) as i32).unsigned_abs();
                    let compression = fourcc(b, data + 16);
                    if compression != [0; 4] {
                        v.codec = compression;
                    }
                }
            }
            _ => {}
        }
        pos = data.saturating_add(size).saturating_add(size & 1);
    }
    v
}

/// The video codec (four-character code) of an AVI file.
pub fn probe_video_codec(path: &Path) -> Result<[u8; 4], String> {
    let mut f = BufReader::new(File::open(path).map_err(|e| e.to_string())?);
    let len = f.get_ref().metadata().map_err(|e| e.to_string())?.len();
    parse_layout(&mut f, len).map(|l| l.video.codec)
}

enum Mode {
    /// Frame positions from `idx1`: (offset of the chunk header, length).
    Indexed {
        entries: Vec<(u64, u32)>,
        next: usize,
    },
    /// Walking the `movi` lists: current list and position in it.
    Walk { list: usize, pos: u64, resync: bool },
}

/// Frames from a Motion-JPEG AVI file.
pub struct MjpegAviSource {
    path: PathBuf,
    reader: BufReader<File>,
    file_len: u64,
    cursor: u64,
    layout: AviLayout,
    ids: [[u8; 4]; 2],
    mode: Mode,
    index: u64,
    last: Option<RgbImage>,
    count: Option<u64>,
    data: Vec<u8>,
    done: bool,
}

impl MjpegAviSource {
    pub fn open(path: &Path) -> Result<MjpegAviSource, SourceError> {
        let file = File::open(path).map_err(|e| SourceError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| SourceError::io(path, e))?.len();
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let layout = parse_layout(&mut reader, file_len)
            .map_err(|e| SourceError::malformed(path, format!("AVI: {e}")))?;
        if !is_mjpeg_fourcc(&layout.video.codec) {
            return Err(SourceError::unsupported(
                path,
                format!(
                    "AVI video codec `{}` is not Motion-JPEG (open it through ffmpeg)",
                    String::from_utf8_lossy(&layout.video.codec)
                ),
            ));
        }
        let n = layout.video.number;
        let ids = [
            [
                b'0' + (n / 10 % 10) as u8,
                b'0' + (n % 10) as u8,
                b'd',
                b'c',
            ],
            [
                b'0' + (n / 10 % 10) as u8,
                b'0' + (n % 10) as u8,
                b'd',
                b'b',
            ],
        ];
        let mut src = MjpegAviSource {
            path: path.to_path_buf(),
            reader,
            file_len,
            cursor: u64::MAX,
            ids,
            mode: Mode::Walk {
                list: 0,
                pos: layout.movi[0].0,
                resync: false,
            },
            layout,
            index: 0,
            last: None,
            count: None,
            data: Vec::new(),
            done: false,
        };
        if let Some(entries) = src.read_index() {
            src.count = Some(entries.len() as u64);
            src.mode = Mode::Indexed { entries, next: 0 };
        } else if src.layout.video.length > 0 {
            src.count = Some(src.layout.video.length);
        }
        Ok(src)
    }

    fn seek_to(&mut self, pos: u64) -> io::Result<()> {
        if self.cursor != u64::MAX && pos >= self.cursor && pos - self.cursor < (1 << 16) {
            self.reader.seek_relative((pos - self.cursor) as i64)?;
        } else {
            self.reader.seek(SeekFrom::Start(pos))?;
        }
        self.cursor = pos;
        Ok(())
    }

    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.seek_to(pos)?;
        let n = super::read_up_to(&mut self.reader, buf)?;
        self.cursor = pos + n as u64;
        Ok(n)
    }

    /// The video entries of `idx1`, when it exists, there are no AVIX parts, and its first
    /// entry points at a chunk of the video stream.
    fn read_index(&mut self) -> Option<Vec<(u64, u32)>> {
        if self.layout.has_avix {
            return None;
        }
        let (start, len) = self.layout.idx1?;
        let len = len.min(16 * 10_000_000);
        let mut raw = vec![0u8; len as usize / 16 * 16];
        let n = self.read_at(start, &mut raw).ok()?;
        raw.truncate(n / 16 * 16);
        let entries: Vec<(u32, u32)> = raw
            .chunks_exact(16)
            .filter(|e| self.ids.contains(&fourcc(e, 0)))
            .map(|e| (u32le(e, 8), u32le(e, 12)))
            .collect();
        let &(first_off, first_len) = entries.first()?;
        // Offsets count from the `movi` four-character code (usual) or from the file start.
        let movi_fourcc = self.layout.movi[0].0 - 4;
        let mut base = None;
        for candidate in [movi_fourcc, 0] {
            let mut h = [0u8; 8];
            let at = candidate + first_off as u64;
            if self.read_at(at, &mut h).ok()? == 8
                && self.ids.contains(&fourcc(&h, 0))
                && u32le(&h, 4) == first_len
            {
                base = Some(candidate);
                break;
            }
        }
        let base = base?;
        Some(
            entries
                .into_iter()
                .map(|(off, len)| (base + off as u64, len))
                .collect(),
        )
    }

    fn frame_result(
        &mut self,
        index: u64,
        decoded: Result<RgbImage, String>,
    ) -> Result<Frame, SourceError> {
        let v = &self.layout.video;
        let image = decoded.map_err(|e| SourceError::frame(&self.path, index, e))?;
        if image.dimensions() != (v.width, v.height) {
            return Err(SourceError::frame(
                &self.path,
                index,
                format!(
                    "JPEG is {}×{}, the stream {}×{}",
                    image.width(),
                    image.height(),
                    v.width,
                    v.height
                ),
            ));
        }
        self.last = Some(image.clone());
        Ok(Frame {
            index,
            timestamp: timestamp_at(index, v.rate, v.scale),
            image,
        })
    }

    fn repeat_last(&self, index: u64) -> Option<Frame> {
        let v = &self.layout.video;
        self.last.as_ref().map(|image| Frame {
            index,
            timestamp: timestamp_at(index, v.rate, v.scale),
            image: image.clone(),
        })
    }

    fn next_indexed(&mut self) -> Option<Result<Frame, SourceError>> {
        loop {
            let (off, len) = match &mut self.mode {
                Mode::Indexed { entries, next } => {
                    let e = *entries.get(*next)?;
                    *next += 1;
                    e
                }
                Mode::Walk { .. } => unreachable!(),
            };
            let index = self.index;
            self.index += 1;
            if len == 0 {
                match self.repeat_last(index) {
                    Some(f) => return Some(Ok(f)),
                    None => continue,
                }
            }
            let mut h = [0u8; 8];
            let ok = matches!(self.read_at(off, &mut h), Ok(8))
                && self.ids.contains(&fourcc(&h, 0))
                && u32le(&h, 4) == len;
            if !ok {
                return Some(Err(SourceError::frame(
                    &self.path,
                    index,
                    format!("no video chunk at offset {off} where idx1 says one is"),
                )));
            }
            if off + 8 + len as u64 > self.file_len || len as u64 > MAX_CHUNK {
                return Some(Err(SourceError::frame(
                    &self.path,
                    index,
                    format!("chunk of {len} bytes at offset {off} runs past the end of the file"),
                )));
            }
            self.data.resize(len as usize, 0);
            let mut data = std::mem::take(&mut self.data);
            let n = self.read_at(off + 8, &mut data);
            let decoded = match n {
                Ok(n) if n == data.len() => decode_jpeg(&data),
                Ok(n) => Err(format!("cut short: {n} of {len} bytes")),
                Err(e) => Err(e.to_string()),
            };
            self.data = data;
            return Some(self.frame_result(index, decoded));
        }
    }

    fn next_walk(&mut self) -> Option<Result<Frame, SourceError>> {
        loop {
            let Mode::Walk { list, pos, resync } = self.mode else {
                unreachable!()
            };
            let &(start, end) = self.layout.movi.get(list)?;
            let pos = pos.max(start);
            if resync {
                let found = self.scan_for_chunk(pos, end);
                self.mode = Mode::Walk {
                    list: if found.is_some() { list } else { list + 1 },
                    pos: found.unwrap_or(end),
                    resync: false,
                };
                continue;
            }
            if pos + 8 > end {
                self.mode = Mode::Walk {
                    list: list + 1,
                    pos: 0,
                    resync: false,
                };
                continue;
            }
            let mut h = [0u8; 12];
            let n = match self.read_at(pos, &mut h) {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Some(Err(SourceError::io(&self.path, e)));
                }
            };
            if n < 8 {
                self.mode = Mode::Walk {
                    list: list + 1,
                    pos: 0,
                    resync: false,
                };
                continue;
            }
            let id = fourcc(&h, 0);
            let size = u32le(&h, 4) as u64;
            let next = pos + 8 + size + (size & 1);
            if &id == b"LIST" && n >= 12 && &fourcc(&h, 8) == b"rec " {
                self.mode = Mode::Walk {
                    list,
                    pos: pos + 12,
                    resync: false,
                };
                continue;
            }
            let plausible = id.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ');
            let is_video = self.ids.contains(&id);
            if !plausible || (is_video && size > MAX_CHUNK) {
                let index = self.index;
                self.index += 1;
                self.mode = Mode::Walk {
                    list,
                    pos: pos + 1,
                    resync: true,
                };
                return Some(Err(SourceError::frame(
                    &self.path,
                    index,
                    format!("garbled chunk header at offset {pos}; searching for the next frame"),
                )));
            }
            if !is_video {
                self.mode = Mode::Walk {
                    list,
                    pos: next,
                    resync: false,
                };
                continue;
            }
            let index = self.index;
            self.index += 1;
            self.mode = Mode::Walk {
                list,
                pos: next,
                resync: false,
            };
            if size == 0 {
                match self.repeat_last(index) {
                    Some(f) => return Some(Ok(f)),
                    None => continue,
                }
            }
            if pos + 8 + size > self.file_len {
                self.done = true;
                return Some(Err(SourceError::frame(
                    &self.path,
                    index,
                    format!("chunk of {size} bytes at offset {pos} runs past the end of the file (cut short)"),
                )));
            }
            self.data.resize(size as usize, 0);
            let mut data = std::mem::take(&mut self.data);
            let decoded = match self.read_at(pos + 8, &mut data) {
                Ok(n) if n == data.len() => decode_jpeg(&data),
                Ok(n) => Err(format!("cut short: {n} of {size} bytes")),
                Err(e) => Err(e.to_string()),
            };
            self.data = data;
            return Some(self.frame_result(index, decoded));
        }
    }

    /// Finds the next plausible video chunk header at or after `from` (before `end`).
    fn scan_for_chunk(&mut self, from: u64, end: u64) -> Option<u64> {
        let mut pos = from;
        let mut buf = vec![0u8; 1 << 16];
        while pos + 8 <= end {
            let n = self.read_at(pos, &mut buf).ok()?;
            if n < 8 {
                return None;
            }
            for i in 0..n - 7 {
                let id = fourcc(&buf, i);
                if self.ids.contains(&id) {
                    let at = pos + i as u64;
                    let size = u32le(&buf, i + 4) as u64;
                    if size <= MAX_CHUNK && at + 8 + size <= self.file_len {
                        return Some(at);
                    }
                }
            }
            pos += (n - 7) as u64;
        }
        None
    }
}

impl FrameSource for MjpegAviSource {
    fn next_frame(&mut self) -> Option<Result<Frame, SourceError>> {
        if self.done {
            return None;
        }
        let r = match self.mode {
            Mode::Indexed { .. } => self.next_indexed(),
            Mode::Walk { .. } => self.next_walk(),
        };
        if r.is_none() {
            self.done = true;
        }
        r
    }

    fn frame_rate(&self) -> f64 {
        self.layout.video.rate as f64 / self.layout.video.scale as f64
    }

    fn frame_size(&self) -> (u32, u32) {
        (self.layout.video.width, self.layout.video.height)
    }

    fn describe(&self) -> String {
        let v = &self.layout.video;
        format!(
            "MJPEG AVI {} ({}×{} at {}/{} fps, {}{})",
            self.path.display(),
            v.width,
            v.height,
            v.rate,
            v.scale,
            match self.count {
                Some(n) => format!("{n} frames, "),
                None => String::new(),
            },
            match self.mode {
                Mode::Indexed { .. } => "indexed",
                Mode::Walk { .. } => "no usable idx1",
            }
        )
    }

    fn frame_count(&self) -> Option<u64> {
        self.count
    }
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// Writes a Motion-JPEG AVI (one video stream `00dc`, an `idx1` index), the way ffmpeg and
/// most players expect it. Call [`MjpegAviWriter::finish`] to write the index and the final
/// sizes; a file not finished still reads (without `idx1`).
pub struct MjpegAviWriter<W: Write + Seek> {
    out: W,
    width: u32,
    height: u32,
    rate: u32,
    scale: u32,
    quality: u8,
    /// Offset of each chunk from the `movi` four-character code, and its length.
    index: Vec<(u32, u32)>,
    movi_pos: u64,
    written: u64,
    max_chunk: u32,
}

const HEADER_LEN: usize = 12 + 8 + 4 + 64 + 8 + 4 + 64 + 48 + 12;

impl<W: Write + Seek> MjpegAviWriter<W> {
    /// Starts a file of `width`×`height` frames at `fps` (written as a fraction), each frame
    /// encoded at JPEG `quality` (1–100) by [`write_frame`](Self::write_frame).
    pub fn new(mut out: W, width: u32, height: u32, fps: f64, quality: u8) -> io::Result<Self> {
        if width == 0 || height == 0 || width > 65_535 || height > 65_535 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a JPEG frame cannot be {width}×{height}"),
            ));
        }
        let (rate, scale) = super::y4m::fps_fraction(fps)?;
        let start = out.stream_position()?;
        let mut w = MjpegAviWriter {
            out,
            width,
            height,
            rate,
            scale,
            quality: quality.clamp(1, 100),
            index: Vec::new(),
            movi_pos: start + HEADER_LEN as u64 - 4,
            written: start + HEADER_LEN as u64,
            max_chunk: 0,
        };
        let header = w.header(0, 0);
        w.out.write_all(&header)?;
        Ok(w)
    }

    fn header(&self, riff_size: u32, movi_size: u32) -> Vec<u8> {
        let frames = self.index.len() as u32;
        let usec = (1_000_000u64 * self.scale as u64 / self.rate.max(1) as u64) as u32;
        let bytes_per_sec =
            (self.max_chunk as u64 * self.rate as u64 / self.scale.max(1) as u64) as u32;
        let mut h = Vec::with_capacity(HEADER_LEN);
        let put = |h: &mut Vec<u8>, v: u32| h.extend_from_slice(&v.to_le_bytes());
        h.extend_from_slice(b"RIFF");
        put(&mut h, riff_size);
        h.extend_from_slice(b"AVI LIST");
        put(&mut h, 4 + 64 + 8 + 4 + 64 + 48);
        h.extend_from_slice(b"hdrlavih");
        put(&mut h, 56);
        put(&mut h, usec);
        put(&mut h, bytes_per_sec);
        put(&mut h, 0); // padding granularity
        put(&mut h, 0x10); // AVIF_HASINDEX
        put(&mut h, frames);
        put(&mut h, 0); // initial frames
        put(&mut h, 1); // streams
        put(&mut h, self.max_chunk);
        put(&mut h, self.width);
        put(&mut h, self.height);
        for _ in 0..4 {
            put(&mut h, 0);
        }
        h.extend_from_slice(b"LIST");
        put(&mut h, 4 + 64 + 48);
        h.extend_from_slice(b"strlstrh");
        put(&mut h, 56);
        h.extend_from_slice(b"vidsMJPG");
        put(&mut h, 0); // flags
        put(&mut h, 0); // priority, language
        put(&mut h, 0); // initial frames
        put(&mut h, self.scale);
        put(&mut h, self.rate);
        put(&mut h, 0); // start
        put(&mut h, frames);
        put(&mut h, self.max_chunk);
        put(&mut h, u32::MAX); // quality: default
        put(&mut h, 0); // sample size
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&(self.width as u16).to_le_bytes());
        h.extend_from_slice(&(self.height as u16).to_le_bytes());
        h.extend_from_slice(b"strf");
        put(&mut h, 40);
        put(&mut h, 40);
        put(&mut h, self.width);
        put(&mut h, self.height);
        h.extend_from_slice(&1u16.to_le_bytes()); // planes
        h.extend_from_slice(&24u16.to_le_bytes()); // bit count
        h.extend_from_slice(b"MJPG");
        put(&mut h, self.width * self.height * 3);
        for _ in 0..4 {
            put(&mut h, 0);
        }
        h.extend_from_slice(b"LIST");
        put(&mut h, movi_size);
        h.extend_from_slice(b"movi");
        debug_assert_eq!(h.len(), HEADER_LEN);
        h
    }

    /// Encodes and appends one frame.
    pub fn write_frame(&mut self, image: &RgbImage) -> io::Result<()> {
        if image.dimensions() != (self.width, self.height) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "frame is {}×{}, the stream {}×{}",
                    image.width(),
                    image.height(),
                    self.width,
                    self.height
                ),
            ));
        }
        let jpeg = encode_frame(image, self.quality)?;
        self.write_jpeg(&jpeg)
    }

    /// Appends one frame already encoded as JPEG (written as is, not checked).
    pub fn write_jpeg(&mut self, jpeg: &[u8]) -> io::Result<()> {
        let len = u32::try_from(jpeg.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "JPEG too large"))?;
        let offset = (self.written - self.movi_pos) as u32;
        self.out.write_all(b"00dc")?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(jpeg)?;
        if len & 1 == 1 {
            self.out.write_all(&[0])?;
        }
        self.written += 8 + len as u64 + (len & 1) as u64;
        self.index.push((offset, len));
        self.max_chunk = self.max_chunk.max(len);
        Ok(())
    }

    /// Writes `idx1` and the final header; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let movi_size = (self.written - self.movi_pos) as u32;
        self.out.write_all(b"idx1")?;
        self.out
            .write_all(&((self.index.len() * 16) as u32).to_le_bytes())?;
        for &(off, len) in &self.index {
            self.out.write_all(b"00dc")?;
            self.out.write_all(&0x10u32.to_le_bytes())?; // AVIIF_KEYFRAME
            self.out.write_all(&off.to_le_bytes())?;
            self.out.write_all(&len.to_le_bytes())?;
        }
        let end = self.written + 8 + self.index.len() as u64 * 16;
        let start = self.movi_pos + 4 - HEADER_LEN as u64;
        let riff_size = (end - start - 8) as u32;
        let header = self.header(riff_size, movi_size);
        self.out.seek(SeekFrom::Start(start))?;
        self.out.write_all(&header)?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One frame as a baseline JPEG. Not generic, so the encoder is compiled (and optimised)
/// here in camera-replay, whatever crate the writer is instantiated in.
fn encode_frame(image: &RgbImage, quality: u8) -> io::Result<Vec<u8>> {
    let mut jpeg = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality);
    image
        .write_with_encoder(enc)
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(jpeg)
}

/// Writes frames as a Motion-JPEG AVI file at `fps`, each frame a JPEG of `quality`.
pub fn write_mjpeg_avi<'a>(
    path: &Path,
    fps: f64,
    quality: u8,
    frames: impl IntoIterator<Item = &'a RgbImage>,
) -> io::Result<()> {
    let mut frames = frames.into_iter().peekable();
    let first = frames
        .peek()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no frames to write"))?;
    let file = io::BufWriter::new(File::create(path)?);
    let mut w = MjpegAviWriter::new(file, first.width(), first.height(), fps, quality)?;
    for f in frames {
        w.write_frame(f)?;
    }
    w.finish()?.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourccs() {
        assert!(is_mjpeg_fourcc(b"MJPG"));
        assert!(is_mjpeg_fourcc(b"mjpg"));
        assert!(!is_mjpeg_fourcc(b"H264"));
    }
}
