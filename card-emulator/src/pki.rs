//! The test PKI: one test CA (clearly not a real JPKI CA) that issues user-authentication and
//! signature certificates with chosen serials and validity, and signs a revocation list.
//!
//! RSA-2048 key generation is slow, so the keys are synthetic fixtures shipped in
//! `fixtures/keys/` (made once with `openssl genrsa 2048`; test-only, protect nothing).
//! Everything issued here is deterministic: PKCS#1 v1.5 signatures have no randomness.

use crate::profile::{CardProfile, CertificateSetting, Holder, KeySlot};
use crate::tlv::{der_uint, tlv};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder, X509};
use std::sync::OnceLock;
use time::Date;

const CA_KEY: &str = include_str!("../fixtures/keys/ca.pem");
const HOLDER_KEYS: [&str; 8] = [
    include_str!("../fixtures/keys/holder0.pem"),
    include_str!("../fixtures/keys/holder1.pem"),
    include_str!("../fixtures/keys/holder2.pem"),
    include_str!("../fixtures/keys/holder3.pem"),
    include_str!("../fixtures/keys/holder4.pem"),
    include_str!("../fixtures/keys/holder5.pem"),
    include_str!("../fixtures/keys/holder6.pem"),
    include_str!("../fixtures/keys/holder7.pem"),
];

/// Number of key slots: each slot holds an authentication and a signature key pair.
pub const KEY_SLOTS: u8 = 4;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] ErrorStack),
    #[error("key slot {0} does not exist (0..{KEY_SLOTS})")]
    NoSuchKeySlot(u8),
}

/// Which of the two JPKI certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    /// 利用者証明用電子証明書: identifies the holder, carries no personal data.
    Authentication,
    /// 署名用電子証明書: carries name, address, birth date and sex.
    Signature,
}

/// The test CA. Build it once per process with [`TestPki::shared`].
pub struct TestPki {
    ca_key: PKey<Private>,
    ca_cert: X509,
    ca_der: Vec<u8>,
}

impl TestPki {
    /// The process-wide test CA (built on first use).
    pub fn shared() -> Result<&'static TestPki, PkiError> {
        static PKI: OnceLock<TestPki> = OnceLock::new();
        if let Some(pki) = PKI.get() {
            return Ok(pki);
        }
        let pki = TestPki::new()?;
        Ok(PKI.get_or_init(|| pki))
    }

    fn new() -> Result<Self, PkiError> {
        let ca_key = PKey::private_key_from_pem(CA_KEY.as_bytes())?;
        let name = ca_name()?;
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let one = BigNum::from_u32(1)?;
        let serial = Asn1Integer::from_bn(&one)?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        let not_before = Asn1Time::from_str("20140101000000Z")?;
        let not_after = Asn1Time::from_str("20491231235959Z")?;
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;
        b.set_pubkey(&ca_key)?;
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
        b.append_extension(ski)?;
        b.sign(&ca_key, MessageDigest::sha256())?;
        let ca_cert = b.build();
        let ca_der = ca_cert.to_der()?;
        Ok(TestPki {
            ca_key,
            ca_cert,
            ca_der,
        })
    }

    /// The CA certificate (EF 000B and EF 0002 of JPKI-AP), DER.
    pub fn ca_certificate_der(&self) -> &[u8] {
        &self.ca_der
    }

    pub fn ca_certificate(&self) -> &X509 {
        &self.ca_cert
    }

    /// The fixture key of `kind` in `slot`.
    pub fn holder_key(&self, slot: KeySlot, kind: CertKind) -> Result<PKey<Private>, PkiError> {
        if slot.0 >= KEY_SLOTS {
            return Err(PkiError::NoSuchKeySlot(slot.0));
        }
        let index = usize::from(slot.0) * 2 + usize::from(kind == CertKind::Signature);
        Ok(PKey::private_key_from_pem(HOLDER_KEYS[index].as_bytes())?)
    }

    /// Issues a certificate for `key` with the serial and validity of `setting`.
    pub fn issue(
        &self,
        kind: CertKind,
        key: &PKey<Private>,
        setting: &CertificateSetting,
        holder: &Holder,
    ) -> Result<X509, PkiError> {
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let serial = BigNum::from_slice(&setting.serial.to_be_bytes())?;
        let serial = Asn1Integer::from_bn(&serial)?;
        b.set_serial_number(&serial)?;
        b.set_issuer_name(self.ca_cert.subject_name())?;
        let subject = holder_name(kind, setting.serial, holder)?;
        let not_before = asn1_time(setting.not_before, false)?;
        let not_after = asn1_time(setting.not_after, true)?;
        b.set_subject_name(&subject)?;
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;
        b.set_pubkey(key)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        let usage = match kind {
            CertKind::Authentication => KeyUsage::new().critical().digital_signature().build()?,
            CertKind::Signature => KeyUsage::new().critical().non_repudiation().build()?,
        };
        b.append_extension(usage)?;
        b.sign(&self.ca_key, MessageDigest::sha256())?;
        Ok(b.build())
    }

    /// A DER X.509 v2 CRL listing `revoked` serials (each with its revocation date).
    /// rust-openssl has no CRL builder, so the TBS is assembled here and signed by the CA.
    pub fn crl(
        &self,
        revoked: &[(u64, Date)],
        this_update: Date,
        next_update: Date,
    ) -> Result<Vec<u8>, PkiError> {
        let mut entries = Vec::new();
        for (serial, date) in revoked {
            let mut entry = der_uint(*serial);
            entry.extend(utc_time(*date));
            entries.extend(tlv(&[0x30], &entry));
        }
        let mut tbs = der_uint(1); // v2
        tbs.extend(SHA256_WITH_RSA);
        tbs.extend(self.ca_cert.subject_name().to_der()?);
        tbs.extend(utc_time(this_update));
        tbs.extend(utc_time(next_update));
        if !entries.is_empty() {
            tbs.extend(tlv(&[0x30], &entries));
        }
        let tbs = tlv(&[0x30], &tbs);
        let mut signer = Signer::new(MessageDigest::sha256(), &self.ca_key)?;
        let signature = signer.sign_oneshot_to_vec(&tbs)?;
        let mut bits = vec![0u8]; // no unused bits
        bits.extend(signature);
        let mut body = tbs;
        body.extend(SHA256_WITH_RSA);
        body.extend(tlv(&[0x03], &bits));
        Ok(tlv(&[0x30], &body))
    }

    /// The CRL of the test CA for a set of cards: every certificate whose profile marks it
    /// revoked, revoked on its `not_before` date (the dates only need to be plausible).
    pub fn crl_for<'a>(
        &self,
        profiles: impl IntoIterator<Item = &'a CardProfile>,
        this_update: Date,
    ) -> Result<Vec<u8>, PkiError> {
        let revoked: Vec<(u64, Date)> = profiles
            .into_iter()
            .flat_map(|p| [&p.auth_certificate, &p.sign_certificate])
            .filter(|c| c.revoked)
            .map(|c| (c.serial, c.not_before))
            .collect();
        let next_update = this_update.saturating_add(time::Duration::days(1));
        self.crl(&revoked, this_update, next_update)
    }

    /// PKCS#1 v1.5 signature by the CA key over `digest_info` as given (the card-surface
    /// record's DF28 signs a non-standard 96-byte DigestInfo, so no hashing here).
    pub fn issuer_sign_raw(&self, digest_info: &[u8]) -> Result<Vec<u8>, PkiError> {
        let key = self.ca_key.rsa()?;
        Ok(sign_pkcs1(&key, digest_info)?)
    }
}

/// AlgorithmIdentifier sha256WithRSAEncryption with NULL parameters.
const SHA256_WITH_RSA: [u8; 15] = [
    0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B, 0x05, 0x00,
];

fn ca_name() -> Result<X509Name, ErrorStack> {
    let mut n = X509NameBuilder::new()?;
    n.append_entry_by_text("C", "JP")?;
    n.append_entry_by_text("O", "myna-hil TEST ONLY")?;
    n.append_entry_by_text("OU", "Test JPKI CA - not a real certification authority")?;
    Ok(n.build())
}

fn holder_name(kind: CertKind, serial: u64, holder: &Holder) -> Result<X509Name, ErrorStack> {
    let mut n = X509NameBuilder::new()?;
    n.append_entry_by_text("C", "JP")?;
    n.append_entry_by_text("O", "myna-hil TEST ONLY")?;
    match kind {
        // As on a real card, the authentication certificate names no person.
        CertKind::Authentication => {
            n.append_entry_by_text("OU", "Test JPKI for user authentication")?;
            n.append_entry_by_text("CN", &format!("{serial:016X}"))?;
        }
        CertKind::Signature => {
            n.append_entry_by_text("OU", "Test JPKI for digital signature")?;
            n.append_entry_by_text("CN", &holder.name)?;
        }
    }
    Ok(n.build())
}

/// Start of day (not before) or end of day (not after), UTC.
fn asn1_time(date: Date, end_of_day: bool) -> Result<Asn1Time, ErrorStack> {
    let clock = if end_of_day { "235959" } else { "000000" };
    let s = format!(
        "{:04}{:02}{:02}{clock}Z",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    Asn1Time::from_str(&s)
}

/// DER UTCTime at midnight (valid for 1950-2049, the CRL range we use).
fn utc_time(date: Date) -> Vec<u8> {
    let s = format!(
        "{:02}{:02}{:02}000000Z",
        date.year().rem_euclid(100),
        u8::from(date.month()),
        date.day()
    );
    tlv(&[0x17], s.as_bytes())
}

/// RSA PKCS#1 v1.5 signature (type 1 padding) over `digest_info` as given.
pub fn sign_pkcs1(
    key: &openssl::rsa::RsaRef<Private>,
    digest_info: &[u8],
) -> Result<Vec<u8>, ErrorStack> {
    let mut out = vec![0u8; key.size() as usize];
    let n = key.private_encrypt(digest_info, &mut out, openssl::rsa::Padding::PKCS1)?;
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::x509::X509Crl;
    use time::macros::date;

    #[test]
    fn issues_certificates_with_the_chosen_serial_and_validity() {
        let pki = TestPki::shared().unwrap();
        let profile = CardProfile::sample();
        let key = pki
            .holder_key(KeySlot(1), CertKind::Authentication)
            .unwrap();
        let cert = pki
            .issue(
                CertKind::Authentication,
                &key,
                &profile.auth_certificate,
                &profile.holder,
            )
            .unwrap();
        let serial = cert.serial_number().to_bn().unwrap().to_dec_str().unwrap();
        assert_eq!(serial.to_string(), "4097");
        assert_eq!(cert.not_before().to_string(), "Feb 17 00:00:00 2025 GMT");
        assert_eq!(cert.not_after().to_string(), "Feb 17 23:59:59 2030 GMT");
        let ca_key = pki.ca_certificate().public_key().unwrap();
        assert!(cert.verify(&ca_key).unwrap(), "signed by the test CA");
        assert!(pki
            .holder_key(KeySlot(KEY_SLOTS), CertKind::Signature)
            .is_err());
    }

    #[test]
    fn the_crl_lists_exactly_the_revoked_certificates_and_verifies() {
        let pki = TestPki::shared().unwrap();
        let mut revoked = CardProfile::sample();
        revoked.auth_certificate.revoked = true;
        revoked.auth_certificate.serial = 77;
        let good = CardProfile::sample();
        let der = pki
            .crl_for([&revoked, &good], date!(2025 - 11 - 04))
            .unwrap();
        let crl = X509Crl::from_der(&der).expect("a DER CRL openssl can parse");
        let ca_key = pki.ca_certificate().public_key().unwrap();
        assert!(crl.verify(&ca_key).unwrap(), "signed by the test CA");
        let serials: Vec<String> = crl
            .get_revoked()
            .map(|stack| {
                stack
                    .iter()
                    .map(|r| {
                        r.serial_number()
                            .to_bn()
                            .unwrap()
                            .to_dec_str()
                            .unwrap()
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(serials, ["77"]);
        assert!(pki.crl_for([&good], date!(2025 - 11 - 04)).is_ok());
    }
}
