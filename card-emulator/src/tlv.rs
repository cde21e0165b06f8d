//! BER-TLV and DER building blocks used by the card records and the test PKI.

/// Appends a BER length (short form, or 81 / 82 / 83 long forms).
pub fn push_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        _ => out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]),
    }
}

/// Appends one TLV with a (possibly multi-byte) tag.
pub fn push_tlv(out: &mut Vec<u8>, tag: &[u8], value: &[u8]) {
    out.extend_from_slice(tag);
    push_len(out, value.len());
    out.extend_from_slice(value);
}

/// One TLV as a new vector.
pub fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + tag.len() + 4);
    push_tlv(&mut out, tag, value);
    out
}

/// A DER INTEGER holding an unsigned value.
pub fn der_uint(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(7);
    let mut content = Vec::with_capacity(9);
    if bytes[first] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(&bytes[first..]);
    tlv(&[0x02], &content)
}

/// Reads the tag and length at the start of `data`: (tag bytes, header length, value length).
pub fn read_header(data: &[u8]) -> Option<(&[u8], usize, usize)> {
    let first = *data.first()?;
    let mut tag_len = 1;
    if first & 0x1F == 0x1F {
        while data.get(tag_len)? & 0x80 != 0 {
            tag_len += 1;
        }
        tag_len += 1;
    }
    let len_byte = *data.get(tag_len)?;
    let (len, len_len) = if len_byte < 0x80 {
        (usize::from(len_byte), 1)
    } else {
        let n = usize::from(len_byte & 0x7F);
        if n == 0 || n > 3 {
            return None;
        }
        let bytes = data.get(tag_len + 1..tag_len + 1 + n)?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, b| acc << 8 | usize::from(*b)),
            1 + n,
        )
    };
    Some((&data[..tag_len], tag_len + len_len, len))
}

/// Splits a concatenation of TLVs into (tag, value) pairs; `None` if malformed.
pub fn parse_all(mut data: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut items = Vec::new();
    while !data.is_empty() {
        let (tag, header, len) = read_header(data)?;
        let value = data.get(header..header + len)?;
        items.push((tag, value));
        data = &data[header + len..];
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_round_trip() {
        for len in [0usize, 1, 0x7F, 0x80, 0xFF, 0x100, 0x1234, 0x10000] {
            let value = vec![0xAB; len];
            let encoded = tlv(&[0xDF, 0x27], &value);
            let (tag, header, parsed_len) = read_header(&encoded).unwrap();
            assert_eq!((tag, parsed_len), (&[0xDF, 0x27][..], len));
            assert_eq!(&encoded[header..], &value[..]);
        }
        assert_eq!(der_uint(0x80), vec![2, 2, 0, 0x80]);
        assert_eq!(der_uint(1), vec![2, 1, 1]);
        assert_eq!(der_uint(0), vec![2, 1, 0]);
    }
}
