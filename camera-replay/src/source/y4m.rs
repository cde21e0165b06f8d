//! YUV4MPEG2 (`.y4m`): uncompressed YUV frames behind a one-line text header.
//!
//! Header: `YUV4MPEG2` then space-separated fields `W<width>`, `H<height>`,
//! `F<num>:<den>` (frame rate), `I` (interlacing, ignored), `A` (pixel aspect, ignored),
//! `C<colour space>`, and `X<comment>`; `XCOLORRANGE=FULL|LIMITED` (written by ffmpeg) picks
//! the quantisation range. Colour spaces: `420jpeg` (the default when `C` is absent),
//! `420paldv`, `420mpeg2`, `420` (4:2:0 with different chroma siting), `422`, `444`,
//! `444alpha` (alpha ignored), `411`, `mono`, and the deeper `420p10`, `422p12`, `444p16`,
//! `mono16`, … (16-bit little-endian samples, reduced to 8 bits).
//!
//! Each frame is a `FRAME` line (parameters ignored) followed by the Y plane, then Cb and
//! Cr planes (and alpha). Conversion to RGB uses BT.601 coefficients with limited range
//! (Y 16–235, C 16–240) unless the header or [`SourceOptions::y4m_range`](super::SourceOptions)
//! says full range. Chroma is upsampled by replication (nearest sample), so the siting
//! differences between the 4:2:0 variants are below what this harness looks at.
//!
//! A frame whose `FRAME` marker is garbled is an `Err`; the reader then searches forward for
//! the next `FRAME` marker and goes on. A frame cut short by the end of the file is an `Err`
//! and the end of the stream.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::{read_up_to, timestamp_at, FrameSource, SourceError, YuvRange, MAX_FRAME_PIXELS};
use crate::frame::{Frame, RgbImage};

/// A Y4M colour space (chroma layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Y4mChroma {
    C420jpeg,
    C420paldv,
    C420mpeg2,
    C420,
    C422,
    C444,
    C444Alpha,
    C411,
    Mono,
}

impl Y4mChroma {
    /// Horizontal and vertical chroma subsampling; `None` for mono.
    fn subsampling(self) -> Option<(usize, usize)> {
        match self {
            Y4mChroma::C420jpeg | Y4mChroma::C420paldv | Y4mChroma::C420mpeg2 | Y4mChroma::C420 => {
                Some((2, 2))
            }
            Y4mChroma::C422 => Some((2, 1)),
            Y4mChroma::C444 | Y4mChroma::C444Alpha => Some((1, 1)),
            Y4mChroma::C411 => Some((4, 1)),
            Y4mChroma::Mono => None,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Y4mChroma::C420jpeg => "420jpeg",
            Y4mChroma::C420paldv => "420paldv",
            Y4mChroma::C420mpeg2 => "420mpeg2",
            Y4mChroma::C420 => "420",
            Y4mChroma::C422 => "422",
            Y4mChroma::C444 => "444",
            Y4mChroma::C444Alpha => "444alpha",
            Y4mChroma::C411 => "411",
            Y4mChroma::Mono => "mono",
        }
    }

    /// Parses a `C` tag into the layout and bit depth.
    fn parse(tag: &str) -> Option<(Y4mChroma, u32)> {
        let exact = [
            Y4mChroma::C420jpeg,
            Y4mChroma::C420paldv,
            Y4mChroma::C420mpeg2,
            Y4mChroma::C420,
            Y4mChroma::C422,
            Y4mChroma::C444,
            Y4mChroma::C444Alpha,
            Y4mChroma::C411,
            Y4mChroma::Mono,
        ];
        if let Some(c) = exact.iter().find(|c| c.tag() == tag) {
            return Some((*c, 8));
        }
        let (base, depth) = if let Some(d) = tag.strip_prefix("mono") {
            ("mono", d)
        } else {
            let p = tag.find('p')?;
            (&tag[..p], &tag[p + 1..])
        };
        let depth: u32 = depth.parse().ok()?;
        if !(8..=16).contains(&depth) {
            return None;
        }
        let chroma = match base {
            "420" => Y4mChroma::C420,
            "422" => Y4mChroma::C422,
            "444" => Y4mChroma::C444,
            "mono" => Y4mChroma::Mono,
            _ => return None,
        };
        Some((chroma, depth))
    }
}

/// The stream parameters from a Y4M header.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    width: usize,
    height: usize,
    rate: (u64, u64),
    chroma: Y4mChroma,
    depth: u32,
    range: Option<YuvRange>,
}

impl Header {
    fn plane_sizes(&self) -> (usize, usize, usize) {
        let luma = self.width * self.height;
        let chroma = match self.chroma.subsampling() {
            Some((sx, sy)) => self.width.div_ceil(sx) * self.height.div_ceil(sy),
            None => 0,
        };
        let alpha = if self.chroma == Y4mChroma::C444Alpha {
            luma
        } else {
            0
        };
        (luma, chroma, alpha)
    }

    fn frame_bytes(&self) -> usize {
        let (l, c, a) = self.plane_sizes();
        let bps = if self.depth > 8 { 2 } else { 1 };
        (l + 2 * c + a) * bps
    }
}

fn parse_header(line: &str) -> Result<Header, String> {
    let mut fields = line.split(' ').filter(|f| !f.is_empty());
    if fields.next() != Some("YUV4MPEG2") {
        return Err("not a YUV4MPEG2 header".into());
    }
    let (mut w, mut h, mut rate) = (None, None, None);
    let (mut chroma, mut depth, mut range) = (Y4mChroma::C420jpeg, 8, None);
    for f in fields {
        let mut chars = f.chars();
        let tag = chars.next().unwrap_or(' ');
        let val = chars.as_str();
        match tag {
            'W' => {
                w = Some(
                    val.parse::<usize>()
                        .map_err(|_| format!("bad width `{val}`"))?,
                )
            }
            'H' => {
                h = Some(
                    val.parse::<usize>()
                        .map_err(|_| format!("bad height `{val}`"))?,
                )
            }
            'F' => {
                let (n, d) = val
                    .split_once(':')
                    .ok_or_else(|| format!("bad frame rate `{val}`"))?;
                let n: u64 = n.parse().map_err(|_| format!("bad frame rate `{val}`"))?;
                let d: u64 = d.parse().map_err(|_| format!("bad frame rate `{val}`"))?;
                if n == 0 || d == 0 {
                    return Err(format!("frame rate `{val}` is not a rate"));
                }
                rate = Some((n, d));
            }
            'C' => {
                (chroma, depth) = Y4mChroma::parse(val)
                    .ok_or_else(|| format!("unsupported colour space `C{val}`"))?;
            }
            'X' => match val {
                "COLORRANGE=FULL" => range = Some(YuvRange::Full),
                "COLORRANGE=LIMITED" => range = Some(YuvRange::Limited),
                _ => {}
            },
            _ => {} // I, A and unknown tags are ignored, as the format asks
        }
    }
    let width = w.ok_or("header has no width (W)")?;
    let height = h.ok_or("header has no height (H)")?;
    if width == 0 || height == 0 || (width as u64) * (height as u64) > MAX_FRAME_PIXELS {
        return Err(format!("implausible frame size {width}×{height}"));
    }
    Ok(Header {
        width,
        height,
        rate: rate.ok_or("header has no frame rate (F)")?,
        chroma,
        depth,
        range,
    })
}

/// Reads one `\n`-terminated line of at most `max` bytes (without the newline). `Ok(None)` at
/// the end of the input; `Err` for a line too long or cut short.
fn read_line(r: &mut impl BufRead, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = r.take(max as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            if n > max {
                "line too long"
            } else {
                "cut short"
            },
        ));
    }
    line.pop();
    Ok(Some(line))
}

/// Frames from a Y4M file.
pub struct Y4mSource {
    path: PathBuf,
    reader: BufReader<File>,
    header: Header,
    range: YuvRange,
    buf: Vec<u8>,
    index: u64,
    resync: bool,
    done: bool,
}

impl Y4mSource {
    /// Opens and parses the header; `range` overrides the header's range.
    pub fn open(path: &Path, range: Option<YuvRange>) -> Result<Y4mSource, SourceError> {
        let file = File::open(path).map_err(|e| SourceError::io(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let line = read_line(&mut reader, 4096)
            .map_err(|e| SourceError::malformed(path, format!("Y4M header: {e}")))?
            .ok_or_else(|| SourceError::malformed(path, "empty file"))?;
        let line = String::from_utf8_lossy(&line);
        let header =
            parse_header(&line).map_err(|e| SourceError::malformed(path, format!("Y4M: {e}")))?;
        let range = range.or(header.range).unwrap_or_default();
        Ok(Y4mSource {
            path: path.to_path_buf(),
            reader,
            buf: vec![0; header.frame_bytes()],
            header,
            range,
            index: 0,
            resync: false,
            done: false,
        })
    }

    /// Scans forward to just past the next `FRAME` marker's line. False at the end.
    fn skip_to_marker(&mut self) -> io::Result<bool> {
        const MARK: &[u8] = b"FRAME";
        let mut matched = 0usize;
        loop {
            let (consumed, found) = {
                let chunk = self.reader.fill_buf()?;
                if chunk.is_empty() {
                    return Ok(false);
                }
                let mut found = None;
                for (i, &b) in chunk.iter().enumerate() {
                    if matched == MARK.len() {
                        if b == b' ' || b == b'\n' {
                            found = Some(i);
                            break;
                        }
                        matched = 0;
                    }
                    if b == MARK[matched] {
                        matched += 1;
                    } else {
                        matched = usize::from(b == MARK[0]);
                    }
                }
                match found {
                    Some(i) => (i, true),
                    None => (chunk.len(), false),
                }
            };
            self.reader.consume(consumed);
            if found {
                // Rest of the FRAME line (parameters) up to its newline.
                return Ok(read_line(&mut self.reader, 1024)
                    .map(|l| l.is_some())
                    .unwrap_or(false));
            }
        }
    }

    fn read_frame(&mut self) -> Option<Result<Frame, SourceError>> {
        if self.done {
            return None;
        }
        let index = self.index;
        if self.resync {
            self.resync = false;
            match self.skip_to_marker() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(SourceError::frame(&self.path, index, e.to_string())));
                }
            }
        } else {
            match read_line(&mut self.reader, 1024) {
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Ok(Some(line)) if line.starts_with(b"FRAME") => {}
                Ok(Some(_)) | Err(_) => {
                    self.index += 1;
                    self.resync = true;
                    return Some(Err(SourceError::frame(
                        &self.path,
                        index,
                        "garbled FRAME marker; searching for the next frame",
                    )));
                }
            }
        }
        self.index += 1;
        let want = self.buf.len();
        match read_up_to(&mut self.reader, &mut self.buf) {
            Ok(n) if n == want => {}
            Ok(n) => {
                self.done = true;
                return Some(Err(SourceError::frame(
                    &self.path,
                    index,
                    format!("cut short: {n} of {want} bytes"),
                )));
            }
            Err(e) => {
                self.done = true;
                return Some(Err(SourceError::frame(&self.path, index, e.to_string())));
            }
        }
        let image = yuv_to_rgb(&self.header, self.range, &self.buf);
        Some(Ok(Frame {
            index,
            timestamp: timestamp_at(index, self.header.rate.0, self.header.rate.1),
            image,
        }))
    }
}

/// Reduces a plane to 8 bits per sample.
fn plane8(bytes: &[u8], depth: u32) -> std::borrow::Cow<'_, [u8]> {
    if depth <= 8 {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let shift = depth - 8;
    let max = (1u32 << depth) - 1;
    std::borrow::Cow::Owned(
        bytes
            .chunks_exact(2)
            .map(|s| {
                let v = (u16::from_le_bytes([s[0], s[1]]) as u32).min(max);
                ((v + (1 << (shift - 1))) >> shift).min(255) as u8
            })
            .collect(),
    )
}

fn yuv_to_rgb(h: &Header, range: YuvRange, data: &[u8]) -> RgbImage {
    let (luma_n, chroma_n, _) = h.plane_sizes();
    let bps = if h.depth > 8 { 2 } else { 1 };
    let y_plane = plane8(&data[..luma_n * bps], h.depth);
    let (w, ht) = (h.width, h.height);
    let mut out = vec![0u8; w * ht * 3];
    match h.chroma.subsampling() {
        None => {
            for (o, &y) in out.chunks_exact_mut(3).zip(y_plane.iter()) {
                let v = match range {
                    YuvRange::Full => y,
                    YuvRange::Limited => clamp_i32((298 * (y as i32 - 16) + 128) >> 8),
                };
                o.copy_from_slice(&[v, v, v]);
            }
        }
        Some((sx, sy)) => {
            let cb_start = luma_n * bps;
            let cr_start = cb_start + chroma_n * bps;
            let cb = plane8(&data[cb_start..cr_start], h.depth);
            let cr = plane8(&data[cr_start..cr_start + chroma_n * bps], h.depth);
            let cw = w.div_ceil(sx);
            for yy in 0..ht {
                let crow = (yy / sy) * cw;
                let yrow = &y_plane[yy * w..(yy + 1) * w];
                let orow = &mut out[yy * w * 3..(yy + 1) * w * 3];
                for xx in 0..w {
                    let ci = crow + xx / sx;
                    let (y, u, v) = (yrow[xx] as i32, cb[ci] as i32 - 128, cr[ci] as i32 - 128);
                    let (r, g, b) = match range {
                        YuvRange::Limited => {
                            let c = 298 * (y - 16);
                            (
                                (c + 409 * v + 128) >> 8,
                                (c - 100 * u - 208 * v + 128) >> 8,
                                (c + 516 * u + 128) >> 8,
                            )
                        }
                        YuvRange::Full => {
                            let c = 256 * y;
                            (
                                (c + 359 * v + 128) >> 8,
                                (c - 88 * u - 183 * v + 128) >> 8,
                                (c + 454 * u + 128) >> 8,
                            )
                        }
                    };
                    orow[xx * 3] = clamp_i32(r);
                    orow[xx * 3 + 1] = clamp_i32(g);
                    orow[xx * 3 + 2] = clamp_i32(b);
                }
            }
        }
    }
    RgbImage::from_raw(w as u32, ht as u32, out).expect("buffer sized for the frame")
}

#[inline]
fn clamp_i32(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

impl FrameSource for Y4mSource {
    fn next_frame(&mut self) -> Option<Result<Frame, SourceError>> {
        self.read_frame()
    }

    fn frame_rate(&self) -> f64 {
        self.header.rate.0 as f64 / self.header.rate.1 as f64
    }

    fn frame_size(&self) -> (u32, u32) {
        (self.header.width as u32, self.header.height as u32)
    }

    fn describe(&self) -> String {
        format!(
            "Y4M {} ({}×{} at {}:{} fps, C{}{}, {:?} range)",
            self.path.display(),
            self.header.width,
            self.header.height,
            self.header.rate.0,
            self.header.rate.1,
            self.header.chroma.tag(),
            if self.header.depth > 8 {
                format!(" {}-bit", self.header.depth)
            } else {
                String::new()
            },
            self.range
        )
    }

    fn frame_count(&self) -> Option<u64> {
        let len = self.reader.get_ref().metadata().ok()?.len();
        // An estimate: the header line is short next to the frames.
        Some(len / (self.header.frame_bytes() as u64 + 6))
    }
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// The stream parameters of a Y4M file to write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Y4mFormat {
    pub width: u32,
    pub height: u32,
    /// Frame rate `fps_num / fps_den`.
    pub fps_num: u32,
    pub fps_den: u32,
    pub chroma: Y4mChroma,
    pub range: YuvRange,
}

/// Writes RGB frames as 8-bit Y4M (BT.601). Records the range as `XCOLORRANGE`.
pub struct Y4mWriter<W: Write> {
    out: W,
    format: Y4mFormat,
    planes: Vec<u8>,
}

impl<W: Write> Y4mWriter<W> {
    pub fn new(mut out: W, format: Y4mFormat) -> io::Result<Self> {
        if format.width == 0 || format.height == 0 || format.fps_num == 0 || format.fps_den == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Y4M needs a non-empty size and a positive frame rate",
            ));
        }
        writeln!(
            out,
            "YUV4MPEG2 W{} H{} F{}:{} Ip A1:1 C{} XCOLORRANGE={}",
            format.width,
            format.height,
            format.fps_num,
            format.fps_den,
            format.chroma.tag(),
            match format.range {
                YuvRange::Full => "FULL",
                YuvRange::Limited => "LIMITED",
            }
        )?;
        Ok(Y4mWriter {
            out,
            format,
            planes: Vec::new(),
        })
    }

    pub fn write_frame(&mut self, image: &RgbImage) -> io::Result<()> {
        let f = self.format;
        if image.dimensions() != (f.width, f.height) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "frame is {}×{}, the stream {}×{}",
                    image.width(),
                    image.height(),
                    f.width,
                    f.height
                ),
            ));
        }
        fill_planes(&f, image, &mut self.planes);
        self.out.write_all(b"FRAME\n")?;
        self.out.write_all(&self.planes)
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The Y, U and V planes (and alpha) of one frame. Not generic, so it is compiled (and
/// optimised) here in camera-replay, whatever crate the writer is instantiated in: in a
/// debug build of the harness a generic body ran about ten times slower.
fn fill_planes(f: &Y4mFormat, image: &RgbImage, planes: &mut Vec<u8>) {
    let (w, h) = (f.width as usize, f.height as usize);
    let px = image.as_raw();
    planes.clear();
    let full = f.range == YuvRange::Full;
    for i in 0..w * h {
        let (r, g, b) = (px[3 * i] as f32, px[3 * i + 1] as f32, px[3 * i + 2] as f32);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        planes.push(if full {
            clamp_f(y)
        } else {
            clamp_f(16.0 + y * 219.0 / 255.0)
        });
    }
    if let Some((sx, sy)) = f.chroma.subsampling() {
        let (cw, ch) = (w.div_ceil(sx), h.div_ceil(sy));
        let mut cb = Vec::with_capacity(cw * ch);
        let mut cr = Vec::with_capacity(cw * ch);
        for cy in 0..ch {
            for cx in 0..cw {
                let (mut sr, mut sg, mut sb, mut n) = (0f32, 0f32, 0f32, 0f32);
                for y in cy * sy..((cy + 1) * sy).min(h) {
                    for x in cx * sx..((cx + 1) * sx).min(w) {
                        let i = 3 * (y * w + x);
                        sr += px[i] as f32;
                        sg += px[i + 1] as f32;
                        sb += px[i + 2] as f32;
                        n += 1.0;
                    }
                }
                let (r, g, b) = (sr / n, sg / n, sb / n);
                let u = -0.168_736 * r - 0.331_264 * g + 0.5 * b;
                let v = 0.5 * r - 0.418_688 * g - 0.081_312 * b;
                let k = if full { 1.0 } else { 224.0 / 255.0 };
                cb.push(clamp_f(128.0 + u * k));
                cr.push(clamp_f(128.0 + v * k));
            }
        }
        planes.extend_from_slice(&cb);
        planes.extend_from_slice(&cr);
        if f.chroma == Y4mChroma::C444Alpha {
            planes.extend(std::iter::repeat_n(255u8, w * h));
        }
    }
}

#[inline]
fn clamp_f(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

/// Writes frames to a Y4M file (4:2:0, "420jpeg" siting, limited range, like ffmpeg's
/// `yuv420p`). `fps` is written as a fraction over 1000 (or over 1001 for NTSC-style rates
/// such as 29.97).
pub fn write_y4m<'a>(
    path: &Path,
    fps: f64,
    frames: impl IntoIterator<Item = &'a RgbImage>,
) -> io::Result<()> {
    let mut frames = frames.into_iter().peekable();
    let first = frames
        .peek()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no frames to write"))?;
    let (num, den) = fps_fraction(fps)?;
    let format = Y4mFormat {
        width: first.width(),
        height: first.height(),
        fps_num: num,
        fps_den: den,
        chroma: Y4mChroma::C420jpeg,
        range: YuvRange::Limited,
    };
    let file = io::BufWriter::new(File::create(path)?);
    let mut w = Y4mWriter::new(file, format)?;
    for f in frames {
        w.write_frame(f)?;
    }
    w.finish()?;
    Ok(())
}

/// A frame rate as a small fraction: whole rates over 1, NTSC-style rates over 1001, else
/// over 1000.
pub(crate) fn fps_fraction(fps: f64) -> io::Result<(u32, u32)> {
    if !(fps.is_finite() && fps > 0.0 && fps < 1e6) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame rate {fps} is not positive"),
        ));
    }
    if (fps - fps.round()).abs() < 1e-9 {
        return Ok((fps.round() as u32, 1));
    }
    let ntsc = fps * 1001.0 / 1000.0;
    if (ntsc - ntsc.round()).abs() < 1e-6 {
        return Ok((ntsc.round() as u32 * 1000, 1001));
    }
    Ok(((fps * 1000.0).round() as u32, 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers() {
        let h = parse_header("YUV4MPEG2 W640 H480 F30000:1001 It A1:1 C420mpeg2 XYSCSS=420MPEG2")
            .unwrap();
        assert_eq!((h.width, h.height, h.rate), (640, 480, (30000, 1001)));
        assert_eq!((h.chroma, h.depth), (Y4mChroma::C420mpeg2, 8));
        let h = parse_header("YUV4MPEG2 W2 H2 F25:1 C444p10 XCOLORRANGE=FULL").unwrap();
        assert_eq!(
            (h.chroma, h.depth, h.range),
            (Y4mChroma::C444, 10, Some(YuvRange::Full))
        );
        assert_eq!(h.frame_bytes(), 2 * 2 * 3 * 2);
        let h = parse_header("YUV4MPEG2 W3 H3 F25:1").unwrap();
        assert_eq!(h.chroma, Y4mChroma::C420jpeg);
        assert_eq!(h.frame_bytes(), 9 + 2 * 4);
        assert!(parse_header("YUV4MPEG2 W3 F25:1").is_err());
        assert!(parse_header("YUV4MPEG2 W3 H3 F0:1").is_err());
        assert!(parse_header("YUV4MPEG2 W3 H3 F25:1 C999").is_err());
    }

    #[test]
    fn rates_as_fractions() {
        assert_eq!(fps_fraction(15.0).unwrap(), (15, 1));
        assert_eq!(fps_fraction(30000.0 / 1001.0).unwrap(), (30000, 1001));
        assert_eq!(fps_fraction(12.5).unwrap(), (12500, 1000));
        assert!(fps_fraction(0.0).is_err());
    }
}
