//! Encoded images in, RGB out: the one place where the crate decodes a JPEG.
//!
//! Every JPEG the matcher can see goes through [`decode_jpeg`]: still photos
//! ([`crate::matcher::decode_image`], [`crate::source::load_photo`]), image folders
//! ([`crate::source::images`]), Motion-JPEG AVI frames ([`crate::source::avi`]) and the JPEG
//! perturbation ([`crate::perturb::Perturbation::Jpeg`]). So a recorded clip scores what
//! OpenCV scores for the same JPEG bytes:
//!
//! 1. a JPEG without Huffman tables (Motion-JPEG "AVI1") gets the standard tables of T.81
//!    Annex K first ([`insert_default_huffman_tables`]), as libjpeg-turbo does;
//! 2. [`jpeg`], our baseline decoder, bit-exact with libjpeg-turbo (OpenCV's `imdecode`);
//! 3. only when [`jpeg`] refuses the file (a feature it does not implement: progressive,
//!    arithmetic, 12-bit, CMYK, unusual sampling; or damage it does not tolerate) the `image`
//!    crate's decoder, whose pixels may differ from OpenCV's by a few levels.
//!
//! Greyscale becomes RGB with equal channels. EXIF orientation is not applied (as
//! `cv::IMREAD_IGNORE_ORIENTATION`). Images above [`MAX_FRAME_PIXELS`] are refused before
//! any pixel buffer is allocated.

mod dht;
pub mod jpeg;

use std::io;

use image::RgbImage;

/// The largest image any decoder or source will allocate (64 megapixels): a header claiming
/// more is treated as corrupt rather than trusted.
pub const MAX_FRAME_PIXELS: u64 = 64 << 20;

pub use dht::insert_default_huffman_tables;

/// Which decoder produced an image (see [`decode_jpeg_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JpegPath {
    /// Our decoder, bit-exact with libjpeg-turbo.
    Exact,
    /// The `image` crate's decoder (a JPEG ours does not support).
    Fallback,
}

/// Decodes a JPEG into RGB (see the module documentation for the order of decoders).
pub fn decode_jpeg(bytes: &[u8]) -> Result<RgbImage, String> {
    decode_jpeg_with(bytes).map(|(img, _)| img)
}

/// [`decode_jpeg`], also saying which decoder was used (for tests and diagnostics).
pub fn decode_jpeg_with(bytes: &[u8]) -> Result<(RgbImage, JpegPath), String> {
    if let Some((w, h)) = jpeg_dimensions(bytes) {
        if w as u64 * h as u64 > MAX_FRAME_PIXELS {
            return Err(format!("JPEG: implausible size {w}×{h}"));
        }
    }
    let patched;
    let bytes = match insert_default_huffman_tables(bytes) {
        Some(p) => {
            patched = p;
            &patched[..]
        }
        None => bytes,
    };
    match jpeg::decode(bytes) {
        Ok(img) => Ok((img, JpegPath::Exact)),
        Err(_) => fallback_jpeg(bytes).map(|img| (img, JpegPath::Fallback)),
    }
}

/// The `image` crate's JPEG decoder, straight into the frame's own buffer for colour JPEGs.
fn fallback_jpeg(bytes: &[u8]) -> Result<RgbImage, String> {
    use image::ImageDecoder;
    let dec = image::codecs::jpeg::JpegDecoder::new(io::Cursor::new(bytes))
        .map_err(|e| format!("JPEG: {e}"))?;
    let (w, h) = dec.dimensions();
    if w == 0 || h == 0 || w as u64 * h as u64 > MAX_FRAME_PIXELS {
        return Err(format!("JPEG: implausible size {w}×{h}"));
    }
    match dec.color_type() {
        image::ColorType::Rgb8 => {
            let mut buf = vec![0u8; w as usize * h as usize * 3];
            dec.read_image(&mut buf).map_err(|e| format!("JPEG: {e}"))?;
            RgbImage::from_raw(w, h, buf).ok_or_else(|| "JPEG: short buffer".to_string())
        }
        image::ColorType::L8 => {
            let mut grey = vec![0u8; w as usize * h as usize];
            dec.read_image(&mut grey)
                .map_err(|e| format!("JPEG: {e}"))?;
            let mut rgb = Vec::with_capacity(grey.len() * 3);
            for g in grey {
                rgb.extend_from_slice(&[g, g, g]);
            }
            RgbImage::from_raw(w, h, rgb).ok_or_else(|| "JPEG: short buffer".to_string())
        }
        _ => image::DynamicImage::from_decoder(dec)
            .map(|d| d.into_rgb8())
            .map_err(|e| format!("JPEG: {e}")),
    }
}

/// Walks a JPEG's markers before its image data: `visit(position, marker)` is called for
/// each marker up to and including the first SOS (0xDA) or EOI (0xD9), and the walk stops at
/// the first `Some` it returns. `None` when the walk ends without an answer or the bytes are
/// not a JPEG it can walk. The one marker walk of the crate.
pub(crate) fn walk_markers<T>(
    jpeg: &[u8],
    mut visit: impl FnMut(usize, u8) -> Option<T>,
) -> Option<T> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2usize;
    loop {
        // Markers may be preceded by fill bytes 0xFF.
        if *jpeg.get(pos)? != 0xFF {
            return None;
        }
        while *jpeg.get(pos + 1)? == 0xFF {
            pos += 1;
        }
        let marker = *jpeg.get(pos + 1)?;
        if let Some(answer) = visit(pos, marker) {
            return Some(answer);
        }
        match marker {
            0xD9 | 0xDA => return None,
            0x01 | 0xD0..=0xD7 => pos += 2,
            _ => {
                let len = u16::from_be_bytes([*jpeg.get(pos + 2)?, *jpeg.get(pos + 3)?]) as usize;
                if len < 2 {
                    return None;
                }
                pos += 2 + len;
            }
        }
    }
}

/// The size in a JPEG's frame header, without decoding; `None` when no frame header is found
/// before the first scan.
pub fn jpeg_dimensions(jpeg: &[u8]) -> Option<(u32, u32)> {
    walk_markers(jpeg, |pos, marker| {
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let h = u16::from_be_bytes([*jpeg.get(pos + 5)?, *jpeg.get(pos + 6)?]);
            let w = u16::from_be_bytes([*jpeg.get(pos + 7)?, *jpeg.get(pos + 8)?]);
            return Some((u32::from(w), u32::from(h)));
        }
        None
    })
}

/// Decodes a JPEG, PNG or PNM image (detected by its magic bytes) into RGB. JPEGs go
/// through [`decode_jpeg`].
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, String> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return decode_jpeg(bytes);
    }
    let format = if bytes.starts_with(b"\x89PNG") {
        image::ImageFormat::Png
    } else if bytes.len() >= 2 && bytes[0] == b'P' && (b'1'..=b'7').contains(&bytes[1]) {
        image::ImageFormat::Pnm
    } else {
        return Err(format!(
            "not a JPEG, PNG or PNM image (starts with {})",
            hex_preview(bytes)
        ));
    };
    let mut reader = image::ImageReader::with_format(io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_FRAME_PIXELS * 4);
    reader.limits(limits);
    reader
        .decode()
        .map(|d| d.into_rgb8())
        .map_err(|e| format!("{format:?}: {e}"))
}

/// The first bytes in hex, for error messages.
pub(crate) fn hex_preview(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(img: &RgbImage, quality: u8) -> Vec<u8> {
        let mut buf = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality);
        img.write_with_encoder(enc).unwrap();
        buf
    }

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    }

    #[test]
    fn baseline_jpegs_take_the_exact_path() {
        let jpg = encode(&gradient(48, 40), 90);
        assert_eq!(jpeg_dimensions(&jpg), Some((48, 40)));
        let (img, path) = decode_jpeg_with(&jpg).unwrap();
        assert_eq!(path, JpegPath::Exact);
        assert_eq!(img, jpeg::decode(&jpg).unwrap());
    }

    #[test]
    fn huge_headers_are_refused_before_decoding() {
        let mut jpg = encode(&gradient(16, 16), 90);
        // Rewrite the SOF0 size to 65535×65535.
        let sof = jpg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpg[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        let e = decode_jpeg(&jpg).unwrap_err();
        assert!(e.contains("implausible"), "{e}");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode_image(b"not an image").is_err());
        assert!(decode_image(&[]).is_err());
        assert!(decode_jpeg(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16]).is_err());
    }
}
