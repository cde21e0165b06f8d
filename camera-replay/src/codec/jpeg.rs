//! A baseline JPEG decoder that gives the pixels libjpeg-turbo gives (and so OpenCV's
//! `imread`): accurate integer IDCT ("islow", 13-bit constants, 2 extra bits in the first
//! pass), "fancy" triangle chroma upsampling for 4:2:0 and 4:2:2 with libjpeg's rounding
//! biases and edge rules, and libjpeg's 16-bit fixed-point YCbCr → RGB tables.
//!
//! Why: the matcher must compute what OpenCV computes from the same file. YuNet's landmarks
//! move by up to 0.3 px and SFace scores by up to 0.009 between two correct JPEG decoders
//! (the `image` crate's zune-jpeg rounds its IDCT, upsampling and colour conversion
//! differently), more than the 0.005 the OpenCV agreement test allows.
//!
//! Scope: 8-bit baseline or extended sequential Huffman JPEG, one interleaved scan, 1 or 3
//! components (YCbCr), luma sampling 1×1, 2×1 or 2×2 with 1×1
//! chroma, restart intervals. Anything else returns [`JpegError::Unsupported`] so the caller
//! can fall back to another decoder. Written from the JPEG standard (ITU T.81) and the
//! algorithms libjpeg documents; corrupt input gives an error or garbage pixels, never a
//! panic (entropy data cut short reads as zero bits, as libjpeg does).

use image::RgbImage;

/// Why a JPEG was not decoded here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JpegError {
    /// A valid JPEG feature this decoder does not implement (progressive, 12-bit, CMYK...).
    Unsupported(&'static str),
    /// Not a JPEG, or broken.
    Corrupt(&'static str),
}

/// Largest image accepted (pixels), so a corrupt header cannot ask for a huge buffer.
const MAX_PIXELS: u64 = 1 << 28;

/// Natural (row-major) index of the k-th coefficient in zig-zag order.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

#[derive(Clone)]
struct Huffman {
    /// For code length l (1..=16): largest code of that length, or -1.
    maxcode: [i32; 18],
    /// For code length l: index into `values` of the first code minus that code.
    valoffset: [i32; 17],
    values: Vec<u8>,
    /// Fast path: 8-bit prefix → (length, value); length 0 = look further.
    lookup: Vec<(u8, u8)>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: Vec<u8>) -> Result<Huffman, JpegError> {
        let total: usize = counts.iter().map(|c| *c as usize).sum();
        if total != values.len() || total > 256 {
            return Err(JpegError::Corrupt("bad Huffman table"));
        }
        let mut maxcode = [-1i32; 18];
        let mut valoffset = [0i32; 17];
        let mut lookup = vec![(0u8, 0u8); 256];
        let mut code: i32 = 0;
        let mut k: i32 = 0;
        for len in 1..=16usize {
            let n = i32::from(counts[len - 1]);
            if n > 0 {
                valoffset[len] = k - code;
                for i in 0..n {
                    let c = code + i;
                    if len <= 8 {
                        let shift = 8 - len;
                        let first = (c << shift) as usize;
                        for slot in first..first + (1 << shift) {
                            if let Some(e) = lookup.get_mut(slot) {
                                *e = (len as u8, values[(k + i) as usize]);
                            }
                        }
                    }
                }
                code += n;
                k += n;
                maxcode[len] = code - 1;
            }
            if code > (1 << len) {
                return Err(JpegError::Corrupt("bad Huffman code lengths"));
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        Ok(Huffman {
            maxcode,
            valoffset,
            values,
            lookup,
        })
    }
}

/// Entropy-coded data reader: stuffed 0xFF00 → 0xFF; a marker ends the data, after which
/// zero bits are read.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    count: u32,
    marker: Option<u8>,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Bits<'a> {
        Bits {
            data,
            pos,
            acc: 0,
            count: 0,
            marker: None,
        }
    }

    fn fill(&mut self) {
        while self.count <= 56 {
            let mut byte = 0u8;
            if self.marker.is_none() {
                match self.data.get(self.pos) {
                    None => self.marker = Some(0xD9), // missing EOI: as libjpeg, zeros
                    Some(0xFF) => {
                        // Skip fill bytes.
                        let mut p = self.pos + 1;
                        while self.data.get(p) == Some(&0xFF) {
                            p += 1;
                        }
                        match self.data.get(p) {
                            Some(0x00) => {
                                byte = 0xFF;
                                self.pos = p + 1;
                            }
                            Some(m) => {
                                self.marker = Some(*m);
                                self.pos = p + 1;
                            }
                            None => self.marker = Some(0xD9),
                        }
                    }
                    Some(b) => {
                        byte = *b;
                        self.pos += 1;
                    }
                }
            }
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        if self.count < n {
            self.fill();
        }
        let v = (self.acc >> (64 - n)) as u32;
        self.acc <<= n;
        self.count -= n;
        v
    }

    fn peek8(&mut self) -> usize {
        if self.count < 8 {
            self.fill();
        }
        (self.acc >> 56) as usize
    }

    fn decode(&mut self, h: &Huffman) -> Result<u8, JpegError> {
        let (len, value) = h.lookup[self.peek8()];
        if len > 0 {
            self.bits(u32::from(len));
            return Ok(value);
        }
        if self.count < 16 {
            self.fill();
        }
        let mut code = 0i32;
        for len in 1..=16usize {
            code = (code << 1) | self.bits(1) as i32;
            if code <= h.maxcode[len] {
                let idx = (code + h.valoffset[len]) as usize;
                return h
                    .values
                    .get(idx)
                    .copied()
                    .ok_or(JpegError::Corrupt("bad Huffman code"));
            }
        }
        Err(JpegError::Corrupt("bad Huffman code"))
    }

    /// Reads `s` bits and sign-extends them (JPEG's EXTEND).
    fn receive_extend(&mut self, s: u8) -> i32 {
        if s == 0 {
            return 0;
        }
        if s > 16 {
            return 0;
        }
        let v = self.bits(u32::from(s)) as i32;
        if v < (1 << (s - 1)) {
            v - (1 << s) + 1
        } else {
            v
        }
    }

    /// At a restart interval: drop the partial byte and expect an RSTn marker.
    fn restart(&mut self) {
        self.acc = 0;
        self.count = 0;
        match self.marker {
            Some(m) if (0xD0..=0xD7).contains(&m) => self.marker = None,
            Some(_) => {} // some other marker: keep reading zeros, as libjpeg
            None => {
                // Look for the marker in the data.
                while self.pos + 1 < self.data.len() {
                    if self.data[self.pos] == 0xFF
                        && (0xD0..=0xD7).contains(&self.data[self.pos + 1])
                    {
                        self.pos += 2;
                        return;
                    }
                    self.pos += 1;
                }
                self.marker = Some(0xD9);
            }
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    td: usize,
    ta: usize,
}

// Accurate integer IDCT constants (13-bit fixed point).
const CONST_BITS: i32 = 13;
const PASS1_BITS: i32 = 2;
const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

#[inline]
fn descale(x: i32, n: i32) -> i32 {
    // Wrapping, as libjpeg-turbo's int arithmetic does: a broken file may carry any
    // coefficients, and valid ones never come near the limits.
    x.wrapping_add(1 << (n - 1)) >> n
}

/// One 8-point pass of the accurate integer IDCT (LL&M), on `s[0..8]` with stride given by
/// the caller. Returns the 8 outputs before descaling... as (tmp10+tmp3, ...) pairs.
#[inline]
fn idct_1d(s: [i32; 8]) -> [i32; 8] {
    // Even part.
    let z2 = s[2];
    let z3 = s[6];
    let z1 = z2.wrapping_add(z3).wrapping_mul(FIX_0_541196100);
    let tmp2 = z1.wrapping_add(z3.wrapping_mul(-FIX_1_847759065));
    let tmp3 = z1.wrapping_add(z2.wrapping_mul(FIX_0_765366865));
    let tmp0 = (s[0].wrapping_add(s[4])).wrapping_shl(CONST_BITS as u32);
    let tmp1 = (s[0].wrapping_sub(s[4])).wrapping_shl(CONST_BITS as u32);
    let tmp10 = tmp0.wrapping_add(tmp3);
    let tmp13 = tmp0.wrapping_sub(tmp3);
    let tmp11 = tmp1.wrapping_add(tmp2);
    let tmp12 = tmp1.wrapping_sub(tmp2);
    // Odd part.
    let (mut t0, mut t1, mut t2, mut t3) = (s[7], s[5], s[3], s[1]);
    let mut z1 = t0.wrapping_add(t3);
    let mut z2 = t1.wrapping_add(t2);
    let mut z3 = t0.wrapping_add(t2);
    let mut z4 = t1.wrapping_add(t3);
    let z5 = (z3.wrapping_add(z4)).wrapping_mul(FIX_1_175875602);
    t0 = t0.wrapping_mul(FIX_0_298631336);
    t1 = t1.wrapping_mul(FIX_2_053119869);
    t2 = t2.wrapping_mul(FIX_3_072711026);
    t3 = t3.wrapping_mul(FIX_1_501321110);
    z1 = z1.wrapping_mul(-FIX_0_899976223);
    z2 = z2.wrapping_mul(-FIX_2_562915447);
    z3 = z3.wrapping_mul(-FIX_1_961570560);
    z4 = z4.wrapping_mul(-FIX_0_390180644);
    z3 = z3.wrapping_add(z5);
    z4 = z4.wrapping_add(z5);
    t0 = t0.wrapping_add(z1).wrapping_add(z3);
    t1 = t1.wrapping_add(z2).wrapping_add(z4);
    t2 = t2.wrapping_add(z2).wrapping_add(z3);
    t3 = t3.wrapping_add(z1).wrapping_add(z4);
    [
        tmp10.wrapping_add(t3),
        tmp11.wrapping_add(t2),
        tmp12.wrapping_add(t1),
        tmp13.wrapping_add(t0),
        tmp13.wrapping_sub(t0),
        tmp12.wrapping_sub(t1),
        tmp11.wrapping_sub(t2),
        tmp10.wrapping_sub(t3),
    ]
}

/// Dequantised coefficients (natural order) → 8×8 samples written at `out[off..]` with
/// `stride`.
fn idct_block(coef: &[i32; 64], out: &mut [u8], off: usize, stride: usize) {
    let mut ws = [0i32; 64];
    // Pass 1: columns.
    for c in 0..8 {
        let col: [i32; 8] = std::array::from_fn(|r| coef[r * 8 + c]);
        if col[1..].iter().all(|v| *v == 0) {
            let dc = col[0].wrapping_shl(PASS1_BITS as u32);
            for r in 0..8 {
                ws[r * 8 + c] = dc;
            }
            continue;
        }
        let o = idct_1d(col);
        for r in 0..8 {
            ws[r * 8 + c] = descale(o[r], CONST_BITS - PASS1_BITS);
        }
    }
    // Pass 2: rows, +128 and clamp.
    for r in 0..8 {
        let row: [i32; 8] = std::array::from_fn(|c| ws[r * 8 + c]);
        let dst = &mut out[off + r * stride..off + r * stride + 8];
        if row[1..].iter().all(|v| *v == 0) {
            let v = (descale(row[0], PASS1_BITS + 3) + 128).clamp(0, 255) as u8;
            dst.fill(v);
            continue;
        }
        let o = idct_1d(row);
        for c in 0..8 {
            dst[c] = (descale(o[c], CONST_BITS + PASS1_BITS + 3) + 128).clamp(0, 255) as u8;
        }
    }
}

fn be16(d: &[u8], p: usize) -> Result<usize, JpegError> {
    match (d.get(p), d.get(p + 1)) {
        (Some(a), Some(b)) => Ok(usize::from(*a) << 8 | usize::from(*b)),
        _ => Err(JpegError::Corrupt("truncated header")),
    }
}

struct Frame {
    width: usize,
    height: usize,
    comps: Vec<Component>,
}

/// libjpeg's YCbCr → RGB tables.
struct ColorTables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i32; 256],
    cb_g: [i32; 256],
}

impl ColorTables {
    fn new() -> ColorTables {
        const SCALEBITS: i32 = 16;
        const ONE_HALF: i64 = 1 << (SCALEBITS - 1);
        let fix = |x: f64| (x * f64::from(1 << SCALEBITS) + 0.5) as i64;
        let mut t = ColorTables {
            cr_r: [0; 256],
            cb_b: [0; 256],
            cr_g: [0; 256],
            cb_g: [0; 256],
        };
        for i in 0..256usize {
            let x = i as i64 - 128;
            t.cr_r[i] = ((fix(1.40200) * x + ONE_HALF) >> SCALEBITS) as i32;
            t.cb_b[i] = ((fix(1.77200) * x + ONE_HALF) >> SCALEBITS) as i32;
            t.cr_g[i] = (-fix(0.71414) * x) as i32;
            t.cb_g[i] = (-fix(0.34414) * x + ONE_HALF) as i32;
        }
        t
    }
}

/// Decodes a baseline JPEG to RGB.
pub fn decode(data: &[u8]) -> Result<RgbImage, JpegError> {
    if data.len() < 4 || data[0] != 0xFF || data[1] != 0xD8 {
        return Err(JpegError::Corrupt("not a JPEG"));
    }
    let mut qt: [Option<[i32; 64]>; 4] = [None; 4];
    let mut dc: [Option<Huffman>; 4] = [None, None, None, None];
    let mut ac: [Option<Huffman>; 4] = [None, None, None, None];
    let mut frame: Option<Frame> = None;
    let mut restart_interval = 0usize;
    let mut saw_jfif = false;
    let mut adobe_transform: Option<u8> = None;
    let mut pos = 2;
    loop {
        // Next marker (skipping fill bytes).
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if data.get(pos) != Some(&0xFF) {
            return Err(JpegError::Corrupt("marker expected"));
        }
        let marker = *data.get(pos + 1).ok_or(JpegError::Corrupt("truncated"))?;
        pos += 2;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue,
            0xD9 => return Err(JpegError::Corrupt("no image data")),
            _ => {}
        }
        let len = be16(data, pos)?;
        if len < 2 || pos + len > data.len() {
            return Err(JpegError::Corrupt("bad segment length"));
        }
        let seg = &data[pos + 2..pos + len];
        match marker {
            0xC0 | 0xC1 => {
                if seg.len() < 6 {
                    return Err(JpegError::Corrupt("short SOF"));
                }
                if seg[0] != 8 {
                    return Err(JpegError::Unsupported("not 8-bit"));
                }
                let height = (usize::from(seg[1]) << 8) | usize::from(seg[2]);
                let width = (usize::from(seg[3]) << 8) | usize::from(seg[4]);
                let n = usize::from(seg[5]);
                if width == 0 || height == 0 {
                    return Err(JpegError::Unsupported("height from DNL"));
                }
                if (width as u64) * (height as u64) > MAX_PIXELS {
                    return Err(JpegError::Corrupt("image too large"));
                }
                if n != 1 && n != 3 {
                    return Err(JpegError::Unsupported("not 1 or 3 components"));
                }
                if seg.len() < 6 + 3 * n {
                    return Err(JpegError::Corrupt("short SOF"));
                }
                let comps: Vec<Component> = (0..n)
                    .map(|i| {
                        let c = &seg[6 + 3 * i..9 + 3 * i];
                        Component {
                            id: c[0],
                            h: usize::from(c[1] >> 4),
                            v: usize::from(c[1] & 15),
                            tq: usize::from(c[2]),
                            ..Component::default()
                        }
                    })
                    .collect();
                if comps.iter().any(|c| c.tq > 3 || c.h == 0 || c.v == 0) {
                    return Err(JpegError::Corrupt("bad component"));
                }
                if n == 3 {
                    let chroma_ok = comps[1..].iter().all(|c| c.h == 1 && c.v == 1);
                    let luma_ok = matches!((comps[0].h, comps[0].v), (1, 1) | (2, 1) | (2, 2));
                    if !chroma_ok || !luma_ok {
                        return Err(JpegError::Unsupported("sampling factors"));
                    }
                }
                frame = Some(Frame {
                    width,
                    height,
                    comps,
                });
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(JpegError::Unsupported(
                    "progressive, lossless or arithmetic",
                ));
            }
            0xC4 => {
                let mut p = 0;
                while p < seg.len() {
                    let tc = seg[p] >> 4;
                    let th = usize::from(seg[p] & 15);
                    if tc > 1 || th > 3 || p + 17 > seg.len() {
                        return Err(JpegError::Corrupt("bad DHT"));
                    }
                    let counts: [u8; 16] = std::array::from_fn(|i| seg[p + 1 + i]);
                    let total: usize = counts.iter().map(|c| *c as usize).sum();
                    let start = p + 17;
                    if start + total > seg.len() {
                        return Err(JpegError::Corrupt("bad DHT"));
                    }
                    let table = Huffman::new(&counts, seg[start..start + total].to_vec())?;
                    if tc == 0 {
                        dc[th] = Some(table);
                    } else {
                        ac[th] = Some(table);
                    }
                    p = start + total;
                }
            }
            0xDB => {
                let mut p = 0;
                while p < seg.len() {
                    let pq = seg[p] >> 4;
                    let tq = usize::from(seg[p] & 15);
                    let size = if pq == 0 { 64 } else { 128 };
                    if pq > 1 || tq > 3 || p + 1 + size > seg.len() {
                        return Err(JpegError::Corrupt("bad DQT"));
                    }
                    let mut table = [0i32; 64];
                    for (k, &nat) in ZIGZAG.iter().enumerate() {
                        table[nat] = if pq == 0 {
                            i32::from(seg[p + 1 + k])
                        } else {
                            i32::from(seg[p + 1 + 2 * k]) << 8 | i32::from(seg[p + 2 + 2 * k])
                        };
                    }
                    qt[tq] = Some(table);
                    p += 1 + size;
                }
            }
            0xDD => {
                restart_interval = be16(seg, 0)?;
            }
            0xE0 if seg.starts_with(b"JFIF\0") => saw_jfif = true,
            0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => adobe_transform = Some(seg[11]),
            0xDA => {
                let mut f = frame.ok_or(JpegError::Corrupt("SOS before SOF"))?;
                // libjpeg's colour space guess for 3 components: YCbCr unless an Adobe
                // marker says "no transform", or (without JFIF/Adobe) the ids spell RGB.
                if f.comps.len() == 3 {
                    let ids: Vec<u8> = f.comps.iter().map(|c| c.id).collect();
                    let rgb = match adobe_transform {
                        Some(t) => t == 0,
                        None => !saw_jfif && ids == b"RGB",
                    };
                    if rgb || adobe_transform.is_some_and(|t| t > 1) {
                        return Err(JpegError::Unsupported("not YCbCr"));
                    }
                }
                let ns = usize::from(*seg.first().ok_or(JpegError::Corrupt("short SOS"))?);
                if ns != f.comps.len() {
                    return Err(JpegError::Unsupported("several scans"));
                }
                if seg.len() < 1 + 2 * ns + 3 {
                    return Err(JpegError::Corrupt("short SOS"));
                }
                for i in 0..ns {
                    let id = seg[1 + 2 * i];
                    let t = seg[2 + 2 * i];
                    let c = f
                        .comps
                        .iter_mut()
                        .find(|c| c.id == id)
                        .ok_or(JpegError::Corrupt("unknown scan component"))?;
                    c.td = usize::from(t >> 4);
                    c.ta = usize::from(t & 15);
                    if c.td > 3 || c.ta > 3 {
                        return Err(JpegError::Corrupt("bad table selector"));
                    }
                }
                let (ss, se, a) = (seg[1 + 2 * ns], seg[2 + 2 * ns], seg[3 + 2 * ns]);
                if ss != 0 || se != 63 || a != 0 {
                    return Err(JpegError::Unsupported("not a sequential scan"));
                }
                return decode_scan(data, pos + len, &f, &qt, &dc, &ac, restart_interval);
            }
            _ => {} // APPn, COM, DNL...: skipped
        }
        pos += len;
    }
}

#[allow(clippy::too_many_arguments)]
fn decode_scan(
    data: &[u8],
    start: usize,
    f: &Frame,
    qt: &[Option<[i32; 64]>; 4],
    dc: &[Option<Huffman>; 4],
    ac: &[Option<Huffman>; 4],
    restart_interval: usize,
) -> Result<RgbImage, JpegError> {
    let hmax = f.comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = f.comps.iter().map(|c| c.v).max().unwrap_or(1);
    let single = f.comps.len() == 1;
    // A single-component scan is not interleaved: one block per MCU.
    let (mcu_w, mcu_h) = if single { (8, 8) } else { (8 * hmax, 8 * vmax) };
    let mcux = f.width.div_ceil(mcu_w);
    let mcuy = f.height.div_ceil(mcu_h);
    struct Plane {
        data: Vec<u8>,
        stride: usize,
        /// Size of the component in samples (libjpeg's downsampled_width/height).
        width: usize,
        height: usize,
    }
    let mut planes: Vec<Plane> = Vec::with_capacity(f.comps.len());
    let mut tables = Vec::with_capacity(f.comps.len());
    for c in &f.comps {
        let (bw, bh) = if single { (1, 1) } else { (c.h, c.v) };
        let stride = mcux * bw * 8;
        let rows = mcuy * bh * 8;
        planes.push(Plane {
            data: vec![0; stride * rows],
            stride,
            width: (f.width * c.h).div_ceil(hmax),
            height: (f.height * c.v).div_ceil(vmax),
        });
        let q = qt[c.tq].ok_or(JpegError::Corrupt("missing quantisation table"))?;
        let d = dc[c.td]
            .as_ref()
            .ok_or(JpegError::Corrupt("missing DC table"))?;
        let a = ac[c.ta]
            .as_ref()
            .ok_or(JpegError::Corrupt("missing AC table"))?;
        tables.push((q, d, a, bw, bh));
    }

    let mut bits = Bits::new(data, start);
    let mut pred = vec![0i32; f.comps.len()];
    let mut coef = [0i32; 64];
    let total = mcux * mcuy;
    for m in 0..total {
        if restart_interval > 0 && m > 0 && m.is_multiple_of(restart_interval) {
            bits.restart();
            pred.iter_mut().for_each(|p| *p = 0);
        }
        let (mx, my) = (m % mcux, m / mcux);
        for (ci, (q, dct, act, bw, bh)) in tables.iter().enumerate() {
            for by in 0..*bh {
                for bx in 0..*bw {
                    coef.fill(0);
                    let s = dct.decode_or_zero(&mut bits)?;
                    pred[ci] = pred[ci].wrapping_add(bits.receive_extend(s));
                    coef[0] = pred[ci].wrapping_mul(q[0]);
                    let mut k = 1;
                    while k < 64 {
                        let rs = act.decode_or_zero(&mut bits)?;
                        let (r, s) = (usize::from(rs >> 4), rs & 15);
                        if s == 0 {
                            if r == 15 {
                                k += 16;
                                continue;
                            }
                            break;
                        }
                        k += r;
                        if k > 63 {
                            break; // corrupt: ignore the rest of the block
                        }
                        let nat = ZIGZAG[k];
                        coef[nat] = bits.receive_extend(s).wrapping_mul(q[nat]);
                        k += 1;
                    }
                    let p = &mut planes[ci];
                    let x = (mx * bw + bx) * 8;
                    let y = (my * bh + by) * 8;
                    idct_block(&coef, &mut p.data, y * p.stride + x, p.stride);
                }
            }
        }
    }

    let (w, h) = (f.width, f.height);
    let mut out = vec![0u8; w * h * 3];
    if single {
        let p = &planes[0];
        for y in 0..h {
            for x in 0..w {
                let v = p.data[y * p.stride + x];
                out[(y * w + x) * 3..(y * w + x) * 3 + 3].fill(v);
            }
        }
    } else {
        let ct = ColorTables::new();
        let (luma_h, luma_v) = (f.comps[0].h, f.comps[0].v);
        let mut cb_row = vec![0u8; 2 * planes[1].width + 2];
        let mut cr_row = vec![0u8; 2 * planes[2].width + 2];
        for y in 0..h {
            for (plane, row) in [(&planes[1], &mut cb_row), (&planes[2], &mut cr_row)] {
                upsample_row(
                    &plane.data,
                    plane.stride,
                    plane.width,
                    plane.height,
                    luma_h,
                    luma_v,
                    y,
                    row,
                );
            }
            let yp = &planes[0];
            let yrow = &yp.data[y * yp.stride..y * yp.stride + w];
            let orow = &mut out[y * w * 3..(y + 1) * w * 3];
            for x in 0..w {
                let yy = i32::from(yrow[x]);
                let cb = usize::from(cb_row[x]);
                let cr = usize::from(cr_row[x]);
                let r = yy + ct.cr_r[cr];
                let g = yy + ((ct.cb_g[cb] + ct.cr_g[cr]) >> 16);
                let b = yy + ct.cb_b[cb];
                orow[x * 3] = r.clamp(0, 255) as u8;
                orow[x * 3 + 1] = g.clamp(0, 255) as u8;
                orow[x * 3 + 2] = b.clamp(0, 255) as u8;
            }
        }
    }
    RgbImage::from_raw(w as u32, h as u32, out).ok_or(JpegError::Corrupt("size"))
}

impl Huffman {
    fn decode_or_zero(&self, bits: &mut Bits<'_>) -> Result<u8, JpegError> {
        match bits.decode(self) {
            Ok(v) => Ok(v),
            // Past the end of the data (zeros) a code may not exist: libjpeg gives up on
            // the rest of the image the same way (zero coefficients).
            Err(_) if bits.marker.is_some() => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// One output row of a chroma plane at luma resolution, libjpeg's "fancy" way: `hs`×`vs` is
/// the luma sampling (chroma is 1×1). Writes at least `2 * width` samples.
#[allow(clippy::too_many_arguments)]
fn upsample_row(
    plane: &[u8],
    stride: usize,
    width: usize,
    height: usize,
    hs: usize,
    vs: usize,
    y: usize,
    out: &mut [u8],
) {
    let row = |r: usize| &plane[r * stride..r * stride + width];
    match (hs, vs) {
        (1, 1) => out[..width].copy_from_slice(row(y.min(height - 1))),
        (2, 1) => {
            let inp = row(y.min(height - 1));
            if width <= 2 {
                for (i, v) in inp.iter().enumerate() {
                    out[2 * i] = *v;
                    out[2 * i + 1] = *v;
                }
                return;
            }
            let v = |i: usize| i32::from(inp[i]);
            out[0] = inp[0];
            out[1] = ((v(0) * 3 + v(1) + 2) >> 2) as u8;
            for i in 1..width - 1 {
                let c = v(i) * 3;
                out[2 * i] = ((c + v(i - 1) + 1) >> 2) as u8;
                out[2 * i + 1] = ((c + v(i + 1) + 2) >> 2) as u8;
            }
            let l = width - 1;
            out[2 * l] = ((v(l) * 3 + v(l - 1) + 1) >> 2) as u8;
            out[2 * l + 1] = inp[l];
        }
        _ => {
            // 2×2: the nearer chroma row counts 3, the other 1; rows past the edges repeat
            // the edge row.
            let cy = (y / 2).min(height - 1);
            let far = if y.is_multiple_of(2) {
                cy.saturating_sub(1)
            } else {
                (cy + 1).min(height - 1)
            };
            let (near, far) = (row(cy), row(far));
            if width <= 2 {
                for (i, v) in near.iter().enumerate() {
                    out[2 * i] = *v;
                    out[2 * i + 1] = *v;
                }
                return;
            }
            let colsum = |i: usize| i32::from(near[i]) * 3 + i32::from(far[i]);
            let mut this = colsum(0);
            let mut next = colsum(1);
            out[0] = ((this * 4 + 8) >> 4) as u8;
            out[1] = ((this * 3 + next + 7) >> 4) as u8;
            let mut last = this;
            this = next;
            for i in 1..width - 1 {
                next = colsum(i + 1);
                out[2 * i] = ((this * 3 + last + 8) >> 4) as u8;
                out[2 * i + 1] = ((this * 3 + next + 7) >> 4) as u8;
                last = this;
                this = next;
            }
            let l = width - 1;
            out[2 * l] = ((this * 3 + last + 8) >> 4) as u8;
            out[2 * l + 1] = ((this * 4 + 7) >> 4) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(img: &RgbImage, quality: u8) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(img)
            .unwrap();
        out
    }

    fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
        let mse: f64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
            .sum::<f64>()
            / a.as_raw().len() as f64;
        10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10()
    }

    #[test]
    fn decodes_what_an_encoder_wrote() {
        for (w, h) in [(64, 48), (67, 33), (250, 250), (3, 5), (1, 1)] {
            let img = RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([
                    (x * 255 / w.max(1)) as u8,
                    (y * 255 / h.max(1)) as u8,
                    ((x + y) * 3 % 256) as u8,
                ])
            });
            let jpg = encode(&img, 95);
            let ours = decode(&jpg).unwrap();
            assert_eq!(ours.dimensions(), (w, h));
            let theirs = image::load_from_memory(&jpg).unwrap().to_rgb8();
            // Two correct decoders differ by rounding only.
            let worst = ours
                .as_raw()
                .iter()
                .zip(theirs.as_raw())
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .max()
                .unwrap();
            assert!(worst <= 8, "{w}x{h}: differs from zune-jpeg by {worst}");
            if w > 8 && h > 8 {
                assert!(psnr(&ours, &img) > 30.0, "{w}x{h}: {}", psnr(&ours, &img));
            }
        }
    }

    #[test]
    fn greyscale_jpeg() {
        let g = image::GrayImage::from_fn(40, 30, |x, y| image::Luma([(x * 6 + y) as u8]));
        let mut jpg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 90)
            .encode_image(&g)
            .unwrap();
        let rgb = decode(&jpg).unwrap();
        assert!(rgb.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
        assert!((i32::from(rgb.get_pixel(20, 10).0[0]) - 130).abs() <= 3);
    }

    #[test]
    fn truncated_and_broken_input_never_panics() {
        let img = RgbImage::from_fn(33, 17, |x, y| image::Rgb([x as u8 * 7, y as u8 * 9, 50]));
        let jpg = encode(&img, 80);
        for cut in [0, 1, 2, 3, 10, 100, 200, jpg.len() / 2, jpg.len() - 2] {
            let _ = decode(&jpg[..cut]);
        }
        for i in (0..jpg.len()).step_by(7) {
            let mut bad = jpg.clone();
            bad[i] ^= 0x5A;
            let _ = decode(&bad);
        }
        assert!(matches!(decode(b"GIF89a"), Err(JpegError::Corrupt(_))));
    }

    #[test]
    fn idct_of_dc_only_block_is_flat() {
        let mut coef = [0i32; 64];
        coef[0] = 80; // DC 80 → +10 after the 8x scaling
        let mut out = [0u8; 64];
        idct_block(&coef, &mut out, 0, 8);
        assert!(out.iter().all(|v| *v == 138));
    }
}
