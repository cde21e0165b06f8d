//! The standard Huffman tables of ITU-T T.81 Annex K.3, for Motion-JPEG frames that carry
//! none (the "AVI1" Motion-JPEG many webcams send). libjpeg-turbo, and so OpenCV, decodes
//! such frames with exactly these tables.

/// The number of codes of each length 1..=16 and the values in code order, for the four
/// standard tables of ITU-T T.81 Annex K.3 (luminance DC, chrominance DC, luminance AC,
/// chrominance AC). The AC tables list the values with codes up to 15 bits; the 16-bit codes
/// take every remaining (run, size) value in ascending order, which is how Annex K orders them.
const DC_LUMA_BITS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHROMA_BITS: [u8; 16] = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const AC_LUMA_BITS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_CHROMA_BITS: [u8; 16] = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const AC_LUMA_SHORT: [u8; 37] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
    0x24, 0x33, 0x62, 0x72, 0x82,
];
const AC_CHROMA_SHORT: [u8; 43] = [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
    0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
    0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1,
];

/// All 162 AC symbols: the short-code ones in table order, then the rest ascending.
fn ac_values(short: &[u8]) -> Vec<u8> {
    let mut all: Vec<u8> = short.to_vec();
    let mut symbols: Vec<u8> = vec![0x00, 0xf0];
    for run in 0..16u8 {
        for size in 1..=10u8 {
            symbols.push(run << 4 | size);
        }
    }
    symbols.sort_unstable();
    all.extend(symbols.into_iter().filter(|s| !short.contains(s)));
    all
}

pub(crate) fn default_dht_segment() -> Vec<u8> {
    let dc_values: Vec<u8> = (0..12).collect();
    let tables: [(u8, &[u8; 16], Vec<u8>); 4] = [
        (0x00, &DC_LUMA_BITS, dc_values.clone()),
        (0x01, &DC_CHROMA_BITS, dc_values),
        (0x10, &AC_LUMA_BITS, ac_values(&AC_LUMA_SHORT)),
        (0x11, &AC_CHROMA_BITS, ac_values(&AC_CHROMA_SHORT)),
    ];
    let mut body = Vec::new();
    for (class_id, bits, values) in &tables {
        body.push(*class_id);
        body.extend_from_slice(&bits[..]);
        body.extend_from_slice(values);
    }
    let mut seg = vec![0xFF, 0xC4];
    seg.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(&body);
    seg
}

/// When a baseline JPEG has no DHT segment before its first scan, returns a copy with the
/// standard tables inserted before that scan; `None` when it has tables (or is not a JPEG we
/// can walk — the decoder then reports what is wrong).
pub fn insert_default_huffman_tables(jpeg: &[u8]) -> Option<Vec<u8>> {
    // `Some(None)`: the file has tables; `Some(Some(pos))`: the first scan, at `pos`.
    let first_scan = super::walk_markers(jpeg, |pos, marker| match marker {
        0xC4 => Some(None),
        0xDA => Some(Some(pos)),
        _ => None,
    })??;
    let mut out = Vec::with_capacity(jpeg.len() + 420);
    out.extend_from_slice(&jpeg[..first_scan]);
    out.extend_from_slice(&default_dht_segment());
    out.extend_from_slice(&jpeg[first_scan..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tables_have_the_standard_shape() {
        let seg = default_dht_segment();
        assert_eq!(seg.len(), 2 + 418);
        assert_eq!(&seg[..4], &[0xFF, 0xC4, 0x01, 0xA2]);
        for (bits, short) in [
            (&AC_LUMA_BITS, &AC_LUMA_SHORT[..]),
            (&AC_CHROMA_BITS, &AC_CHROMA_SHORT[..]),
        ] {
            let total: usize = bits.iter().map(|&b| b as usize).sum();
            let short_total: usize = bits[..15].iter().map(|&b| b as usize).sum();
            assert_eq!(total, 162);
            assert_eq!(short_total, short.len());
            assert_eq!(ac_values(short).len(), 162);
        }
    }
}
