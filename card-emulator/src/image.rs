//! A `CardImage` is everything static on one card, built once from a profile (certificates,
//! keys, records). Each `Card` (the live state machine) shares an image through an `Arc`, so
//! a case that needs a fresh card costs no RSA work.

use crate::my_number;
use crate::pki::{CertKind, PkiError, TestPki};
use crate::profile::{CardKind, CardProfile, Faults, PinSetting, Secret, TokenKind};
use crate::records;
use openssl::pkey::Private;
use openssl::rsa::Rsa;
use time::Date;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("個人番号 {0:?} is not 12 digits with a valid check digit")]
    InvalidMyNumber(String),
    #[error("security code must be 4 digits")]
    InvalidSecurityCode,
    #[error("card expiry year {0} is out of range")]
    InvalidExpiryYear(u16),
    #[error("the chip photo is {0} bytes; the surface record must stay readable with 15-bit READ BINARY offsets (photo at most {MAX_PHOTO_BYTES} bytes)")]
    PhotoTooLarge(usize),
    #[error(transparent)]
    Pki(#[from] PkiError),
}

/// The static contents of one card.
pub struct CardImage {
    pub profile_name: String,
    pub token: TokenKind,
    pub kind: CardKind,
    pub token_info: Vec<u8>,
    pub auth_certificate: Vec<u8>,
    pub sign_certificate: Vec<u8>,
    pub ca_certificate: Vec<u8>,
    pub my_number_ef: Vec<u8>,
    pub basic_four_ef: Vec<u8>,
    pub surface_ef: Vec<u8>,
    pub auth_key: Rsa<Private>,
    pub sign_key: Rsa<Private>,
    pub auth_pin: Option<PinSetting>,
    pub sign_password: Option<PinSetting>,
    pub text_pin: Option<PinSetting>,
    /// 照合番号B and its tries left.
    pub surface_code_b: PinSetting,
    /// 照合番号A (the 個人番号).
    pub surface_code_a: PinSetting,
    pub faults: Faults,
    pub registered_for_insurance: bool,
}

impl std::fmt::Debug for CardImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardImage")
            .field("profile_name", &self.profile_name)
            .field("token", &self.token)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Largest chip photo: the whole surface record must sit below offset 0x7FFF, the most a
/// short READ BINARY reaches (a real chip photo is a few KB).
pub const MAX_PHOTO_BYTES: usize = 24 * 1024;

/// Tries of 照合番号A/B when fresh (docs/card.md: 10, soft).
pub const SURFACE_CODE_TRIES: u8 = 10;

impl CardImage {
    /// Builds the card described by `profile`, issuing its certificates from the test CA.
    pub fn build(profile: &CardProfile) -> Result<Self, BuildError> {
        let holder = &profile.holder;
        if !my_number::is_valid(&holder.my_number) {
            return Err(BuildError::InvalidMyNumber(holder.my_number.clone()));
        }
        let code = profile.security_code.expose();
        if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BuildError::InvalidSecurityCode);
        }
        let expiry = Date::from_calendar_date(
            i32::from(profile.card_expiry_year),
            holder.birth_date.month(),
            holder.birth_date.day().min(28),
        )
        .map_err(|_| BuildError::InvalidExpiryYear(profile.card_expiry_year))?;

        let pki = TestPki::shared()?;
        let auth_pkey = pki.holder_key(profile.key_slot, CertKind::Authentication)?;
        let sign_pkey = pki.holder_key(profile.key_slot, CertKind::Signature)?;
        let auth_cert = pki.issue(
            CertKind::Authentication,
            &auth_pkey,
            &profile.auth_certificate,
            holder,
        )?;
        let sign_cert = pki.issue(
            CertKind::Signature,
            &sign_pkey,
            &profile.sign_certificate,
            holder,
        )?;
        let auth_key = auth_pkey.rsa().map_err(PkiError::from)?;
        let sign_key = sign_pkey.rsa().map_err(PkiError::from)?;

        let public_key = records::card_public_key_field(
            &auth_key.n().to_vec_padded(256).map_err(PkiError::from)?,
            &auth_key.e().to_vec(),
        );
        let photo = profile.photo_jp2.as_deref().unwrap_or(&[]);
        if photo.len() > MAX_PHOTO_BYTES {
            return Err(BuildError::PhotoTooLarge(photo.len()));
        }
        let surface_ef = records::surface_ef(
            &records::SurfaceInputs {
                holder,
                card_public_key_der: &public_key,
                photo_jp2: photo,
                expiry,
                security_code: code,
            },
            |message| pki.issuer_sign_raw(message),
        )?;

        let token_name: &[u8] = match profile.token {
            TokenKind::Card => b"JPKIAPICCTOKEN2",
            TokenKind::Smartphone => b"JPKIAPGPSETOKEN",
        };
        let mut token_info = token_name.to_vec();
        token_info.resize(32, b' ');

        Ok(CardImage {
            profile_name: profile.name.clone(),
            token: profile.token,
            kind: profile.kind,
            token_info,
            auth_certificate: auth_cert.to_der().map_err(PkiError::from)?,
            sign_certificate: sign_cert.to_der().map_err(PkiError::from)?,
            ca_certificate: pki.ca_certificate_der().to_vec(),
            my_number_ef: records::my_number_ef(&holder.my_number),
            basic_four_ef: records::basic_four_ef(holder),
            surface_ef,
            auth_key,
            sign_key,
            auth_pin: profile.auth_pin.clone(),
            sign_password: profile.sign_password.clone(),
            text_pin: profile.text_pin.clone(),
            surface_code_b: PinSetting {
                value: Secret::new(records::surface_code_b(
                    holder.birth_date,
                    profile.card_expiry_year,
                    code,
                )),
                tries_left: profile.surface_code_tries,
            },
            surface_code_a: PinSetting {
                value: Secret::new(holder.my_number.clone()),
                tries_left: SURFACE_CODE_TRIES,
            },
            faults: profile.faults.clone(),
            registered_for_insurance: profile.registered_for_insurance,
        })
    }
}
