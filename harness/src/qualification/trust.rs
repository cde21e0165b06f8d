//! The certificate check: issued by the trusted CA, not revoked, and within its validity (or
//! its grace period).
//!
//! **Who checks revocation.** The service does, always, and its answer is what the oracle
//! judges: the real オンライン資格確認 checks the certificate on its side through JPKI, so a reader
//! that forgets to check cannot get a revoked card accepted, and a scenario with a revoked card
//! expects SegmentOfResult 9 / `CertificateRevoked` from the service. A reader may check too
//! (the reference reader should, to fail early and show the right screen): it can use this
//! same [`TrustAnchor`] with the same CA and CRL, so the two can never disagree.

use super::record::{CertificateStatus, ResultErrorCode};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::pkey::{PKey, Public};
use openssl::x509::{CrlStatus, X509Crl, X509};
use time::Date;

/// Why a CA or CRL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("the CA certificate is not DER X.509: {0}")]
    Ca(String),
    #[error("the CRL is not a DER X.509 CRL: {0}")]
    Crl(String),
    #[error("the CRL is not signed by the CA")]
    CrlSignature,
    #[error("the CRL's issuer is not the CA")]
    CrlIssuer,
}

/// Why a certificate is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateProblem {
    #[error("the certificate is not issued by the trusted CA")]
    NotTrusted,
    #[error("the certificate is revoked")]
    Revoked,
    #[error("the certificate is not valid before {0}")]
    NotYetValid(Date),
    #[error("the certificate expired on {expired}; its grace period ended on {grace_end}")]
    Expired { expired: Date, grace_end: Date },
}

impl CertificateProblem {
    /// The ErrorCode the service answers with.
    pub fn code(&self) -> ResultErrorCode {
        match self {
            CertificateProblem::NotTrusted => ResultErrorCode::CertificateNotTrusted,
            CertificateProblem::Revoked => ResultErrorCode::CertificateRevoked,
            CertificateProblem::NotYetValid(_) => ResultErrorCode::CertificateNotYetValid,
            CertificateProblem::Expired { .. } => ResultErrorCode::CertificateExpired,
        }
    }
}

/// The test CA and its revocation list.
pub struct TrustAnchor {
    ca: X509,
    ca_key: PKey<Public>,
    crl: X509Crl,
}

impl std::fmt::Debug for TrustAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustAnchor").finish_non_exhaustive()
    }
}

impl TrustAnchor {
    /// The CA certificate and its CRL, both DER (`TestPki::ca_certificate_der`,
    /// `TestPki::crl_for`). The CRL must be signed by the CA: a CRL from elsewhere would
    /// silently let revoked cards through.
    pub fn from_der(ca_der: &[u8], crl_der: &[u8]) -> Result<Self, TrustError> {
        let ca = X509::from_der(ca_der).map_err(|e| TrustError::Ca(e.to_string()))?;
        let ca_key = ca.public_key().map_err(|e| TrustError::Ca(e.to_string()))?;
        let crl = X509Crl::from_der(crl_der).map_err(|e| TrustError::Crl(e.to_string()))?;
        if !crl.verify(&ca_key).unwrap_or(false) {
            return Err(TrustError::CrlSignature);
        }
        if !same_name(crl.issuer_name(), ca.subject_name()) {
            return Err(TrustError::CrlIssuer);
        }
        Ok(TrustAnchor { ca, ca_key, crl })
    }

    /// Judges `cert` on `today`. Order: trust, then revocation (a revoked certificate is
    /// reported as revoked even when it has also expired), then dates.
    pub fn check(&self, cert: &X509, today: Date) -> Result<CertificateStatus, CertificateProblem> {
        if !same_name(cert.issuer_name(), self.ca.subject_name())
            || !cert.verify(&self.ca_key).unwrap_or(false)
        {
            return Err(CertificateProblem::NotTrusted);
        }
        if let CrlStatus::Revoked(_) = self.crl.get_by_cert(cert) {
            return Err(CertificateProblem::Revoked);
        }
        let not_before = asn1_date(cert.not_before()).ok_or(CertificateProblem::NotTrusted)?;
        let not_after = asn1_date(cert.not_after()).ok_or(CertificateProblem::NotTrusted)?;
        if today < not_before {
            return Err(CertificateProblem::NotYetValid(not_before));
        }
        if today <= not_after {
            return Ok(CertificateStatus::Valid);
        }
        // The rules own the grace period; no rule for the date: no grace.
        let grace_end = crate::rules::certificate::grace_until(not_after).unwrap_or(not_after);
        if today <= grace_end {
            Ok(CertificateStatus::ExpiredInGracePeriod)
        } else {
            Err(CertificateProblem::Expired {
                expired: not_after,
                grace_end,
            })
        }
    }

    /// The same check for a DER certificate (what a reader holds).
    pub fn check_der(
        &self,
        cert_der: &[u8],
        today: Date,
    ) -> Result<CertificateStatus, CertificateProblem> {
        let cert = X509::from_der(cert_der).map_err(|_| CertificateProblem::NotTrusted)?;
        self.check(&cert, today)
    }
}

fn same_name(a: &openssl::x509::X509NameRef, b: &openssl::x509::X509NameRef) -> bool {
    match (a.to_der(), b.to_der()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The UTC calendar date of an ASN.1 time (openssl exposes no fields, only differences).
fn asn1_date(t: &Asn1TimeRef) -> Option<Date> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(t).ok()?;
    let seconds = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    let days = seconds.div_euclid(86_400);
    let unix_epoch_julian_day = 2_440_588_i64;
    let julian = i32::try_from(unix_epoch_julian_day + days).ok()?;
    Date::from_julian_day(julian).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use card_emulator::pki::TestPki;
    use card_emulator::{CardImage, CardProfile};
    use time::macros::date;

    fn anchor(profiles: &[&CardProfile]) -> TrustAnchor {
        let pki = TestPki::shared().expect("pki");
        let crl = pki
            .crl_for(profiles.iter().copied(), date!(2025 - 11 - 01))
            .expect("crl");
        TrustAnchor::from_der(pki.ca_certificate_der(), &crl).expect("anchor")
    }

    fn cert(profile: &CardProfile) -> X509 {
        let image = CardImage::build(profile).expect("card");
        X509::from_der(&image.auth_certificate).expect("der")
    }

    #[test]
    fn a_valid_card_passes_and_dates_are_judged_by_calendar_day() {
        let profile = CardProfile::sample(); // 2025-02-17 .. 2030-02-17
        let anchor = anchor(&[&profile]);
        let cert = cert(&profile);
        assert_eq!(
            anchor.check(&cert, date!(2025 - 11 - 04)),
            Ok(CertificateStatus::Valid)
        );
        assert_eq!(
            anchor.check(&cert, date!(2030 - 02 - 17)),
            Ok(CertificateStatus::Valid)
        );
        assert_eq!(
            anchor.check(&cert, date!(2030 - 02 - 18)),
            Ok(CertificateStatus::ExpiredInGracePeriod)
        );
        assert_eq!(
            anchor.check(&cert, date!(2030 - 05 - 31)),
            Ok(CertificateStatus::ExpiredInGracePeriod)
        );
        assert_eq!(
            anchor.check(&cert, date!(2030 - 06 - 01)),
            Err(CertificateProblem::Expired {
                expired: date!(2030 - 02 - 17),
                grace_end: date!(2030 - 05 - 31)
            })
        );
        assert_eq!(
            anchor.check(&cert, date!(2025 - 02 - 16)),
            Err(CertificateProblem::NotYetValid(date!(2025 - 02 - 17)))
        );
    }

    #[test]
    fn a_revoked_certificate_is_refused() {
        let mut revoked = CardProfile::sample();
        revoked.auth_certificate.revoked = true;
        revoked.auth_certificate.serial = 77;
        let anchor = anchor(&[&revoked]);
        assert_eq!(
            anchor.check(&cert(&revoked), date!(2025 - 11 - 04)),
            Err(CertificateProblem::Revoked)
        );
        assert_eq!(
            anchor.check(&cert(&CardProfile::sample()), date!(2025 - 11 - 04)),
            Ok(CertificateStatus::Valid)
        );
    }

    #[test]
    fn a_certificate_not_signed_by_the_ca_is_not_trusted() {
        use card_emulator::pki::CertKind;
        use card_emulator::profile::KeySlot;
        use openssl::hash::MessageDigest;
        let anchor = anchor(&[]);
        let pki = TestPki::shared().expect("pki");
        let forger = pki
            .holder_key(KeySlot(0), CertKind::Authentication)
            .expect("key");
        let forge = |issuer: &openssl::x509::X509NameRef| {
            let mut b = openssl::x509::X509Builder::new().expect("builder");
            b.set_version(2).expect("version");
            b.set_issuer_name(issuer).expect("issuer");
            b.set_subject_name(issuer).expect("subject");
            let from = Asn1Time::from_str("20250101000000Z").expect("time");
            let to = Asn1Time::from_str("20300101000000Z").expect("time");
            b.set_not_before(&from).expect("nb");
            b.set_not_after(&to).expect("na");
            b.set_pubkey(&forger).expect("pubkey");
            b.sign(&forger, MessageDigest::sha256()).expect("sign");
            b.build()
        };
        // The CA's name, someone else's signature.
        let forged = forge(pki.ca_certificate().subject_name());
        assert_eq!(
            anchor.check(&forged, date!(2025 - 11 - 04)),
            Err(CertificateProblem::NotTrusted)
        );
        // Another issuer altogether.
        let mut name = openssl::x509::X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", "Somebody else")
            .expect("cn");
        let other = forge(&name.build());
        assert_eq!(
            anchor.check(&other, date!(2025 - 11 - 04)),
            Err(CertificateProblem::NotTrusted)
        );
        assert_eq!(
            anchor.check_der(b"\x30\x03junk", date!(2025 - 11 - 04)),
            Err(CertificateProblem::NotTrusted)
        );
    }

    #[test]
    fn a_crl_must_come_from_the_ca() {
        let pki = TestPki::shared().expect("pki");
        assert!(matches!(
            TrustAnchor::from_der(pki.ca_certificate_der(), b"junk"),
            Err(TrustError::Crl(_))
        ));
        assert!(matches!(
            TrustAnchor::from_der(b"junk", b"junk"),
            Err(TrustError::Ca(_))
        ));
    }

    #[test]
    fn the_service_grace_period_is_the_rules_one_to_the_end_of_the_third_month() {
        assert_eq!(
            crate::rules::certificate::grace_until(date!(2030 - 02 - 17)).unwrap(),
            date!(2030 - 05 - 31)
        );
        assert_eq!(
            crate::rules::certificate::grace_until(date!(2030 - 10 - 01)).unwrap(),
            date!(2031 - 01 - 31)
        );
        assert_eq!(
            crate::rules::certificate::grace_until(date!(2030 - 11 - 30)).unwrap(),
            date!(2031 - 02 - 28)
        );
        assert_eq!(
            crate::rules::certificate::grace_until(date!(2031 - 11 - 30)).unwrap(),
            date!(2032 - 02 - 29)
        );
        assert_eq!(
            crate::rules::certificate::grace_until(date!(2030 - 12 - 31)).unwrap(),
            date!(2031 - 03 - 31)
        );
    }
}
