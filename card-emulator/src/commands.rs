//! Builders for the command APDUs of docs/card.md ("Commands"), as a host sends them: one place
//! for the emulator's tests, the conformance checks and the reference reader.

/// SELECT an application by AID: `00 A4 04 0C Lc AID`.
pub fn select_aid(aid: &[u8]) -> Vec<u8> {
    with_data(&[0x00, 0xA4, 0x04, 0x0C], aid)
}

/// SELECT an EF of the current application: `00 A4 02 0C 02 FID`.
pub fn select_ef(fid: u16) -> Vec<u8> {
    with_data(&[0x00, 0xA4, 0x02, 0x0C], &fid.to_be_bytes())
}

/// VERIFY on the selected PIN EF: `00 20 00 80 [Lc value]`; empty asks for the tries left.
pub fn verify(value: &[u8]) -> Vec<u8> {
    if value.is_empty() {
        vec![0x00, 0x20, 0x00, 0x80]
    } else {
        with_data(&[0x00, 0x20, 0x00, 0x80], value)
    }
}

/// READ BINARY with a 15-bit offset and a short Le (0 means 256).
pub fn read_binary(offset: u16, le: u8) -> Vec<u8> {
    let [hi, lo] = offset.to_be_bytes();
    vec![0x00, 0xB0, hi, lo, le]
}

/// CHANGE REFERENCE DATA with the new value only: `00 24 01 80 Lc value`.
pub fn change_reference_data(new_value: &[u8]) -> Vec<u8> {
    with_data(&[0x00, 0x24, 0x01, 0x80], new_value)
}

/// COMPUTE DIGITAL SIGNATURE as OpenSC sends it: `80 2A 00 80 Lc <DigestInfo> 00`.
pub fn sign(digest_info: &[u8]) -> Vec<u8> {
    let mut apdu = with_data(&[0x80, 0x2A, 0x00, 0x80], digest_info);
    apdu.push(0x00);
    apdu
}

/// GET CHALLENGE of `le` bytes.
pub fn get_challenge(le: u8) -> Vec<u8> {
    vec![0x00, 0x84, 0x00, 0x00, le]
}

/// DER DigestInfo prefix for SHA-256 (PKCS#1 v1.5).
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The PKCS#1 v1.5 DigestInfo of SHA-256(`message`), what the card signs.
pub fn sha256_digest_info(message: &[u8]) -> Vec<u8> {
    let mut info = SHA256_DIGEST_INFO_PREFIX.to_vec();
    info.extend_from_slice(&openssl::sha::sha256(message));
    info
}

/// A short case-3 APDU: header, Lc, data (data of at most 255 bytes).
fn with_data(header: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut apdu = Vec::with_capacity(5 + data.len());
    apdu.extend_from_slice(header);
    apdu.push(data.len() as u8);
    apdu.extend_from_slice(data);
    apdu
}
