//! The data records of the two card-surface applications (docs/card.md) and 照合番号B.
//!
//! Formats follow the open-source readers of the card (OpenSC, jpki/myna); the name and
//! address "images" hold UTF-8 text as a stand-in for the printed bitmaps of a real card.

use crate::profile::Holder;
use crate::tlv::{push_tlv, tlv};
use time::{Date, Month};

/// The Japanese era year of `date` (昭和55 for 1980, 令和1 from 2019-05-01).
pub fn era_year(date: Date) -> u16 {
    // (first day of the era, its year 1)
    const ERAS: [(i32, Month, u8); 5] = [
        (2019, Month::May, 1),       // 令和
        (1989, Month::January, 8),   // 平成
        (1926, Month::December, 25), // 昭和
        (1912, Month::July, 30),     // 大正
        (1868, Month::October, 23),  // 明治
    ];
    for (year, month, day) in ERAS {
        let start = Date::from_calendar_date(year, month, day).unwrap_or(Date::MIN);
        if date >= start {
            return (date.year() - year + 1) as u16;
        }
    }
    date.year().max(0) as u16
}

/// 照合番号B: era birth date YYMMDD, card expiry year YYYY, 4-digit security code.
pub fn surface_code_b(birth: Date, expiry_year: u16, security_code: &str) -> String {
    format!(
        "{:02}{:02}{:02}{:04}{}",
        era_year(birth) % 100,
        u8::from(birth.month()),
        birth.day(),
        expiry_year,
        security_code
    )
}

pub fn yyyymmdd(date: Date) -> String {
    format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// 券面事項入力補助AP EF 0001: the 個人番号 as `FF10 0C` + 12 ASCII digits, then `FF FF`
/// filler (17 bytes, as read by jpki/myna with a fixed Le of 0x11).
pub fn my_number_ef(my_number: &str) -> Vec<u8> {
    let mut out = tlv(&[0xFF, 0x10], my_number.as_bytes());
    out.extend_from_slice(&[0xFF, 0xFF]);
    out
}

/// 券面事項入力補助AP EF 0002: basic four items in FF20 (DF21 offsets, DF22 name and
/// DF23 address in UTF-8, DF24 birth date YYYYMMDD, DF25 sex code).
pub fn basic_four_ef(holder: &Holder) -> Vec<u8> {
    let birth = yyyymmdd(holder.birth_date);
    let sex = [holder.sex.code()];
    let fields: [(&[u8], &[u8]); 4] = [
        (&[0xDF, 0x22], holder.name.as_bytes()),
        (&[0xDF, 0x23], holder.address.as_bytes()),
        (&[0xDF, 0x24], birth.as_bytes()),
        (&[0xDF, 0x25], &sex),
    ];
    tlv(&[0xFF, 0x20], &with_offset_table(&fields))
}

/// DF21 (offsets of each following field from the start of the file, u16 big-endian)
/// followed by the fields. The offsets count the outer FF20 header too.
fn with_offset_table(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut rest = Vec::new();
    let mut starts = Vec::with_capacity(fields.len());
    for (tag, value) in fields {
        starts.push(rest.len());
        push_tlv(&mut rest, tag, value);
    }
    let table_len = 2 * fields.len();
    let df21_len = 2 + 1 + table_len;
    let total = df21_len + rest.len();
    let mut length_bytes = Vec::with_capacity(4);
    crate::tlv::push_len(&mut length_bytes, total);
    let outer_header = 2 + length_bytes.len();
    let mut table = Vec::with_capacity(table_len);
    for start in starts {
        table.extend_from_slice(&((outer_header + df21_len + start) as u16).to_be_bytes());
    }
    let mut out = tlv(&[0xDF, 0x21], &table);
    out.extend(rest);
    out
}

/// The parts of the card-surface record (券面事項確認AP EF 0002).
pub struct SurfaceInputs<'a> {
    pub holder: &'a Holder,
    pub card_public_key_der: &'a [u8],
    pub photo_jp2: &'a [u8],
    pub expiry: Date,
    pub security_code: &'a str,
}

/// The card public key as DF24 holds it: `90 03 <exponent> 91 82 01 00 <modulus>`.
pub fn card_public_key_field(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let mut out = tlv(&[0x90], exponent);
    push_tlv(&mut out, &[0x91], modulus);
    out
}

/// The full EF 0002: FF20 { DF21 offsets, DF22..DF27, DF28 signature, DF29 expiry,
/// DF2A security-code image }. `sign` receives the 96-byte message of
/// [`surface_digest_info`] and returns the issuer's PKCS#1 v1.5 signature over it.
pub fn surface_ef<E>(
    inputs: &SurfaceInputs<'_>,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, E> {
    let birth = yyyymmdd(inputs.holder.birth_date);
    let sex = [inputs.holder.sex.code()];
    let expiry = yyyymmdd(inputs.expiry);
    let signed: [(&[u8], &[u8]); 6] = [
        (&[0xDF, 0x22], birth.as_bytes()),
        (&[0xDF, 0x23], &sex),
        (&[0xDF, 0x24], inputs.card_public_key_der),
        (&[0xDF, 0x25], inputs.holder.name.as_bytes()),
        (&[0xDF, 0x26], inputs.holder.address.as_bytes()),
        (&[0xDF, 0x27], inputs.photo_jp2),
    ];
    let signature = sign(&surface_digest_info(&signed))?;
    let mut fields: Vec<(&[u8], &[u8])> = signed.to_vec();
    fields.push((&[0xDF, 0x28], &signature));
    fields.push((&[0xDF, 0x29], expiry.as_bytes()));
    fields.push((&[0xDF, 0x2A], inputs.security_code.as_bytes()));
    Ok(tlv(&[0xFF, 0x20], &with_offset_table(&fields)))
}

/// What DF28 signs: a DigestInfo (SHA-256 OID) over three SHA-256 digests, of
/// DF22‖DF23‖DF24, of DF25‖DF26 and of DF27, each with its TLV header (as myna-card checks).
pub fn surface_digest_info(signed: &[(&[u8], &[u8]); 6]) -> Vec<u8> {
    const HEADER: [u8; 19] = [
        0x30, 0x71, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x60,
    ];
    let group = |items: &[(&[u8], &[u8])]| {
        let mut bytes = Vec::new();
        for (tag, value) in items {
            push_tlv(&mut bytes, tag, value);
        }
        openssl::sha::sha256(&bytes)
    };
    let mut out = HEADER.to_vec();
    out.extend(group(&signed[0..3]));
    out.extend(group(&signed[3..5]));
    out.extend(group(&signed[5..6]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn surface_code_b_matches_domain_example() {
        assert_eq!(
            surface_code_b(date!(1980 - 02 - 17), 2035, "2285"),
            "55021720352285"
        );
        assert_eq!(era_year(date!(2019 - 04 - 30)), 31);
        assert_eq!(era_year(date!(2019 - 05 - 01)), 1);
        assert_eq!(era_year(date!(1989 - 01 - 07)), 64);
        assert_eq!(era_year(date!(1989 - 01 - 08)), 1);
    }
}
