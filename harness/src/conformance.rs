//! Card conformance checks at APDU level (docs/card.md): each check sends commands through a
//! [`CardChannel`] and compares status words and data with what the card's profile says.
//! The same checks run on the emulator in process, through pcscd + vpcd, and on a vendor's
//! card in a real reader (where the PIN-spending checks are refused by the guard).

use crate::channel::{read_tlv_ef, CardChannel, ChannelError, EfReadError, Response};
use crate::scenario::ConformanceCheck;
use card_emulator::card::{AID_JPKI, AID_SURFACE, AID_TEXT_SUPPORT};
use card_emulator::commands;
use card_emulator::profile::{CardKind, CardProfile, TokenKind};
use card_emulator::StatusWord;
use openssl::hash::MessageDigest;
use openssl::x509::X509;

/// Why a check did not pass.
#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    /// The card answered wrongly.
    Fail(String),
    /// The check does not apply to this card, or the guard refused it.
    Skip(String),
    /// The channel broke (timeout, removal, reader error).
    Error(String),
}

impl From<ChannelError> for Problem {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Refused(why) => Problem::Skip(format!("refused: {why}")),
            other => Problem::Error(other.to_string()),
        }
    }
}

pub type Outcome = Result<(), Problem>;

/// The verdict of a check's outcome, with the reason for anything but a pass.
pub fn verdict_of(outcome: Outcome) -> (Verdict, Option<String>) {
    match outcome {
        Ok(()) => (Verdict::Pass, None),
        Err(Problem::Fail(why)) => (Verdict::Fail, Some(why)),
        Err(Problem::Skip(why)) => (Verdict::Skip, Some(why)),
        Err(Problem::Error(why)) => (Verdict::Error, Some(why)),
    }
}

/// What a check can use.
pub struct Ctx<'a> {
    pub channel: &'a mut dyn CardChannel,
    pub profile: &'a CardProfile,
}

/// Runs one check on the card behind `ctx`.
pub fn run_check(check: ConformanceCheck, ctx: &mut Ctx<'_>) -> Outcome {
    use ConformanceCheck::*;
    match check {
        SelectJpkiAp => select_jpki_ap(ctx),
        SelectMasterFile => select_master_file(ctx),
        SelectUnknownAid => select_unknown_aid(ctx),
        SelectOtherAps => select_other_aps(ctx),
        TokenInfo => token_info(ctx),
        AuthenticationCertificate => authentication_certificate(ctx),
        CaCertificate => ca_certificate(ctx),
        SignatureCertificateLocked => signature_certificate_locked(ctx),
        EmptyVerify => empty_verify(ctx),
        ReadPastEnd => read_past_end(ctx),
        WrongP1P2 => wrong_p1p2(ctx),
        WrongLength => wrong_length(ctx),
        UnknownInstruction => unknown_instruction(ctx),
        GetChallenge => get_challenge(ctx),
        SignNeedsPin => sign_needs_pin(ctx),
        VerifyAndSign => verify_and_sign(ctx),
        SelectClearsVerified => select_clears_verified(ctx),
        TextSupportMyNumber => text_support_my_number(ctx),
        SurfaceRecord => surface_record(ctx),
        WrongPinThenRight => wrong_pin_then_right(ctx),
        ChangeReferenceData => change_reference_data(ctx),
        PinBlocks => pin_blocks(ctx),
    }
}

// --- helpers -------------------------------------------------------------------------------

fn send(ctx: &mut Ctx<'_>, apdu: &[u8]) -> Result<Response, Problem> {
    Ok(ctx.channel.transmit(apdu)?)
}

fn expect(r: &Response, sw: StatusWord, what: &str) -> Outcome {
    if r.sw() == sw {
        Ok(())
    } else {
        Err(Problem::Fail(format!(
            "{what}: expected SW {sw}, got {}",
            r.sw()
        )))
    }
}

fn select_aid(ctx: &mut Ctx<'_>, aid: &[u8]) -> Result<Response, Problem> {
    send(ctx, &commands::select_aid(aid))
}

fn select_ef(ctx: &mut Ctx<'_>, fid: u16) -> Result<Response, Problem> {
    send(ctx, &commands::select_ef(fid))
}

/// SELECT the application and the EF, both expected to succeed.
fn open(ctx: &mut Ctx<'_>, aid: &[u8], fid: u16) -> Outcome {
    expect(&select_aid(ctx, aid)?, StatusWord::Ok, "SELECT application")?;
    expect(
        &select_ef(ctx, fid)?,
        StatusWord::Ok,
        &format!("SELECT EF {fid:04X}"),
    )
}

fn verify(ctx: &mut Ctx<'_>, value: &[u8]) -> Result<Response, Problem> {
    send(ctx, &commands::verify(value))
}

/// Reads a whole TLV-headed EF (see [`crate::channel::read_tlv_ef`]).
fn read_tlv_file(ctx: &mut Ctx<'_>) -> Result<Vec<u8>, Problem> {
    read_tlv_ef(ctx.channel).map_err(|e| match e {
        EfReadError::Channel(e) => Problem::from(e),
        EfReadError::Card(why) => Problem::Fail(why),
    })
}

fn is_phone(ctx: &Ctx<'_>) -> bool {
    ctx.profile.token == TokenKind::Smartphone
}

fn auth_pin(ctx: &Ctx<'_>) -> Result<Vec<u8>, Problem> {
    match &ctx.profile.auth_pin {
        Some(p) if p.tries_left > 0 => Ok(p.value.expose().as_bytes().to_vec()),
        Some(_) => Err(Problem::Skip(
            "the authentication PIN is blocked on this card".into(),
        )),
        None => Err(Problem::Skip("this card has no authentication PIN".into())),
    }
}

// --- the checks -------------------------------------------------------------------------------

fn select_jpki_ap(ctx: &mut Ctx<'_>) -> Outcome {
    expect(
        &select_aid(ctx, &AID_JPKI)?,
        StatusWord::Ok,
        "SELECT JPKI-AP",
    )
}

fn select_master_file(ctx: &mut Ctx<'_>) -> Outcome {
    let r = send(ctx, &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00])?;
    expect(&r, StatusWord::FileNotFound, "SELECT 3F00")
}

fn select_unknown_aid(ctx: &mut Ctx<'_>) -> Outcome {
    // The PIV AID, one of those OpenSC's other drivers probe.
    let piv = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00];
    expect(
        &select_aid(ctx, &piv)?,
        StatusWord::FileNotFound,
        "SELECT unknown AID",
    )
}

fn select_other_aps(ctx: &mut Ctx<'_>) -> Outcome {
    let sw = if is_phone(ctx) {
        StatusWord::FileNotFound
    } else {
        StatusWord::Ok
    };
    expect(
        &select_aid(ctx, &AID_TEXT_SUPPORT)?,
        sw,
        "SELECT 券面事項入力補助AP",
    )?;
    expect(&select_aid(ctx, &AID_SURFACE)?, sw, "SELECT 券面事項確認AP")
}

fn token_info(ctx: &mut Ctx<'_>) -> Outcome {
    open(ctx, &AID_JPKI, 0x0006)?;
    let r = send(ctx, &commands::read_binary(0, 0x20))?;
    expect(&r, StatusWord::Ok, "READ BINARY 0006")?;
    let expected: &[u8] = if is_phone(ctx) {
        b"JPKIAPGPSETOKEN"
    } else {
        b"JPKIAPICCTOKEN2"
    };
    if r.data().starts_with(expected) {
        Ok(())
    } else {
        Err(Problem::Fail(format!(
            "token info is {:?}, expected {:?}",
            String::from_utf8_lossy(r.data()).trim_end(),
            String::from_utf8_lossy(expected)
        )))
    }
}

fn authentication_certificate(ctx: &mut Ctx<'_>) -> Outcome {
    if is_phone(ctx) {
        // On a phone the certificate needs the PIN first.
        open(ctx, &AID_JPKI, 0x000A)?;
        let r = send(ctx, &commands::read_binary(0, 4))?;
        return expect(
            &r,
            StatusWord::SecurityNotSatisfied,
            "READ 000A before the PIN",
        );
    }
    open(ctx, &AID_JPKI, 0x000A)?;
    let der = read_tlv_file(ctx)?;
    let cert = X509::from_der(&der)
        .map_err(|e| Problem::Fail(format!("not an X.509 certificate: {e}")))?;
    let serial = cert
        .serial_number()
        .to_bn()
        .and_then(|bn| bn.to_dec_str().map(|s| s.to_string()))
        .map_err(|e| Problem::Fail(e.to_string()))?;
    let expected = ctx.profile.auth_certificate.serial.to_string();
    if serial == expected {
        Ok(())
    } else {
        Err(Problem::Fail(format!(
            "serial {serial}, profile says {expected}"
        )))
    }
}

fn ca_certificate(ctx: &mut Ctx<'_>) -> Outcome {
    open(ctx, &AID_JPKI, 0x000B)?;
    let der = read_tlv_file(ctx)?;
    X509::from_der(&der)
        .map(|_| ())
        .map_err(|e| Problem::Fail(format!("CA certificate does not parse: {e}")))
}

fn signature_certificate_locked(ctx: &mut Ctx<'_>) -> Outcome {
    expect(
        &select_aid(ctx, &AID_JPKI)?,
        StatusWord::Ok,
        "SELECT JPKI-AP",
    )?;
    let r = select_ef(ctx, 0x0001)?;
    if ctx.profile.kind == CardKind::FaceAuthentication {
        return expect(
            &r,
            StatusWord::FileNotFound,
            "SELECT 0001 on a face-authentication card",
        );
    }
    expect(&r, StatusWord::Ok, "SELECT 0001")?;
    let r = send(ctx, &commands::read_binary(0, 4))?;
    expect(
        &r,
        StatusWord::SecurityNotSatisfied,
        "READ 0001 without the password",
    )
}

fn empty_verify(ctx: &mut Ctx<'_>) -> Outcome {
    open(ctx, &AID_JPKI, 0x0018)?;
    let tries = ctx.profile.auth_pin.as_ref().map_or(0, |p| p.tries_left);
    expect(
        &verify(ctx, &[])?,
        StatusWord::TriesLeft(tries),
        "empty VERIFY on 0018",
    )
}

fn read_past_end(ctx: &mut Ctx<'_>) -> Outcome {
    open(ctx, &AID_JPKI, 0x0006)?;
    let r = send(ctx, &commands::read_binary(0x7F00, 1))?;
    expect(&r, StatusWord::WrongOffset, "READ BINARY at offset 7F00")
}

fn wrong_p1p2(ctx: &mut Ctx<'_>) -> Outcome {
    let mut apdu = vec![0x00, 0xA4, 0x05, 0x0C, AID_JPKI.len() as u8];
    apdu.extend_from_slice(&AID_JPKI);
    expect(
        &send(ctx, &apdu)?,
        StatusWord::WrongP1P2,
        "SELECT with P1 05",
    )
}

fn wrong_length(ctx: &mut Ctx<'_>) -> Outcome {
    expect(
        &select_aid(ctx, &AID_JPKI)?,
        StatusWord::Ok,
        "SELECT JPKI-AP",
    )?;
    let r = send(ctx, &[0x00, 0xA4, 0x02, 0x0C, 0x03, 0x00, 0x0A, 0x00])?;
    expect(&r, StatusWord::WrongLength, "SELECT EF with a 3-byte FID")
}

fn unknown_instruction(ctx: &mut Ctx<'_>) -> Outcome {
    expect(
        &send(ctx, &[0x00, 0x50, 0x00, 0x00])?,
        StatusWord::InsNotSupported,
        "INS 50",
    )
}

fn get_challenge(ctx: &mut Ctx<'_>) -> Outcome {
    let a = send(ctx, &commands::get_challenge(8))?;
    expect(&a, StatusWord::Ok, "GET CHALLENGE")?;
    let b = send(ctx, &commands::get_challenge(8))?;
    if a.data().len() != 8 {
        return Err(Problem::Fail(format!(
            "{} challenge bytes, asked for 8",
            a.data().len()
        )));
    }
    if a.data() == b.data() {
        return Err(Problem::Fail("two challenges in a row are equal".into()));
    }
    Ok(())
}

fn sign_needs_pin(ctx: &mut Ctx<'_>) -> Outcome {
    open(ctx, &AID_JPKI, 0x0017)?;
    let r = send(
        ctx,
        &commands::sign(&commands::sha256_digest_info(b"myna-hil")),
    )?;
    expect(&r, StatusWord::SecurityNotSatisfied, "sign without VERIFY")
}

fn verify_and_sign(ctx: &mut Ctx<'_>) -> Outcome {
    let pin = auth_pin(ctx)?;
    open(ctx, &AID_JPKI, 0x0018)?;
    expect(
        &verify(ctx, &pin)?,
        StatusWord::Ok,
        "VERIFY the authentication PIN",
    )?;
    // No SELECT of the AP from here on: it would clear the verified PIN.
    expect(&select_ef(ctx, 0x000A)?, StatusWord::Ok, "SELECT 000A")?;
    let der = read_tlv_file(ctx)?;
    let cert = X509::from_der(&der)
        .map_err(|e| Problem::Fail(format!("not an X.509 certificate: {e}")))?;
    expect(&select_ef(ctx, 0x0017)?, StatusWord::Ok, "SELECT 0017")?;
    let message = b"myna-hil conformance challenge";
    let r = send(ctx, &commands::sign(&commands::sha256_digest_info(message)))?;
    expect(&r, StatusWord::Ok, "sign with the authentication key")?;
    let key = cert
        .public_key()
        .map_err(|e| Problem::Fail(e.to_string()))?;
    let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), &key)
        .map_err(|e| Problem::Error(e.to_string()))?;
    match verifier.verify_oneshot(r.data(), message) {
        Ok(true) => Ok(()),
        _ => Err(Problem::Fail(
            "the signature does not verify with the certificate's key".into(),
        )),
    }
}

fn select_clears_verified(ctx: &mut Ctx<'_>) -> Outcome {
    let pin = auth_pin(ctx)?;
    open(ctx, &AID_JPKI, 0x0018)?;
    expect(&verify(ctx, &pin)?, StatusWord::Ok, "VERIFY")?;
    open(ctx, &AID_JPKI, 0x0017)?;
    let r = send(ctx, &commands::sign(&commands::sha256_digest_info(b"x")))?;
    expect(
        &r,
        StatusWord::SecurityNotSatisfied,
        "sign after selecting the AP again",
    )
}

fn text_support_my_number(ctx: &mut Ctx<'_>) -> Outcome {
    if is_phone(ctx) {
        return Err(Problem::Skip(
            "a smartphone token has no 券面事項入力補助AP".into(),
        ));
    }
    let pin = match &ctx.profile.text_pin {
        Some(p) if p.tries_left > 0 => p.value.expose().as_bytes().to_vec(),
        _ => {
            return Err(Problem::Skip(
                "no usable text-support PIN on this card".into(),
            ))
        }
    };
    open(ctx, &AID_TEXT_SUPPORT, 0x0011)?;
    expect(
        &verify(ctx, &pin)?,
        StatusWord::Ok,
        "VERIFY the text-support PIN",
    )?;
    expect(&select_ef(ctx, 0x0001)?, StatusWord::Ok, "SELECT 0001")?;
    let r = send(ctx, &commands::read_binary(0, 0x11))?;
    expect(&r, StatusWord::Ok, "READ 個人番号")?;
    let number = r.data().get(3..15).unwrap_or_default();
    if number == ctx.profile.holder.my_number.as_bytes() {
        Ok(())
    } else {
        Err(Problem::Fail(
            "the 個人番号 on the card differs from the profile".into(),
        ))
    }
}

fn surface_record(ctx: &mut Ctx<'_>) -> Outcome {
    if is_phone(ctx) {
        return Err(Problem::Skip(
            "a smartphone token has no 券面事項確認AP".into(),
        ));
    }
    let p = ctx.profile;
    let code_b = card_emulator::records::surface_code_b(
        p.holder.birth_date,
        p.card_expiry_year,
        p.security_code.expose(),
    );
    open(ctx, &AID_SURFACE, 0x0002)?;
    let r = send(ctx, &commands::read_binary(0, 4))?;
    expect(
        &r,
        StatusWord::SecurityNotSatisfied,
        "READ the surface before 照合番号B",
    )?;
    expect(&select_ef(ctx, 0x0012)?, StatusWord::Ok, "SELECT 0012")?;
    expect(
        &verify(ctx, code_b.as_bytes())?,
        StatusWord::Ok,
        "VERIFY 照合番号B",
    )?;
    expect(&select_ef(ctx, 0x0002)?, StatusWord::Ok, "SELECT 0002")?;
    let record = read_tlv_file(ctx)?;
    let fields = card_emulator::tlv::read_header(&record)
        .and_then(|(tag, header, len)| {
            (tag == [0xFF, 0x20]).then_some(())?;
            card_emulator::tlv::parse_all(record.get(header..header + len)?)
        })
        .ok_or_else(|| Problem::Fail("the surface record is not FF20 TLVs".into()))?;
    let tags: Vec<String> = fields.iter().map(|(t, _)| hex::encode_upper(t)).collect();
    let expected = [
        "DF21", "DF22", "DF23", "DF24", "DF25", "DF26", "DF27", "DF28", "DF29", "DF2A",
    ];
    if tags != expected {
        return Err(Problem::Fail(format!("surface record tags {tags:?}")));
    }
    let photo = fields[6].1;
    match (&p.photo_jp2, photo) {
        (Some(jp2), on_card) if jp2.as_slice() != on_card => Err(Problem::Fail(
            "DF27 differs from the profile's photo".into(),
        )),
        _ => Ok(()),
    }
}

fn wrong_pin_then_right(ctx: &mut Ctx<'_>) -> Outcome {
    let pin = auth_pin(ctx)?;
    let tries = ctx.profile.auth_pin.as_ref().map_or(0, |p| p.tries_left);
    if tries < 2 {
        return Err(Problem::Skip(
            "fewer than 2 tries left: one wrong PIN would block".into(),
        ));
    }
    let wrong = if pin == b"0000" { b"9999" } else { b"0000" };
    open(ctx, &AID_JPKI, 0x0018)?;
    expect(
        &verify(ctx, wrong)?,
        StatusWord::TriesLeft(tries - 1),
        "wrong PIN",
    )?;
    expect(
        &verify(ctx, &[])?,
        StatusWord::TriesLeft(tries - 1),
        "empty VERIFY",
    )?;
    expect(&verify(ctx, &pin)?, StatusWord::Ok, "right PIN")?;
    expect(
        &verify(ctx, &[])?,
        StatusWord::TriesLeft(3),
        "tries after a success",
    )
}

fn change_reference_data(ctx: &mut Ctx<'_>) -> Outcome {
    let pin = auth_pin(ctx)?;
    let new = if pin == b"4321" { b"1234" } else { b"4321" };
    let change = commands::change_reference_data;
    open(ctx, &AID_JPKI, 0x0018)?;
    let r = send(ctx, &change(new))?;
    expect(
        &r,
        StatusWord::SecurityNotSatisfied,
        "CHANGE REFERENCE DATA before VERIFY",
    )?;
    expect(&verify(ctx, &pin)?, StatusWord::Ok, "VERIFY")?;
    expect(
        &send(ctx, &change(new))?,
        StatusWord::Ok,
        "CHANGE REFERENCE DATA",
    )?;
    expect(&verify(ctx, new)?, StatusWord::Ok, "VERIFY the new PIN")?;
    // Put the old PIN back so later checks and cases see the profile's value.
    expect(&send(ctx, &change(&pin))?, StatusWord::Ok, "CHANGE back")
}

fn pin_blocks(ctx: &mut Ctx<'_>) -> Outcome {
    let pin = match &ctx.profile.auth_pin {
        Some(p) => p.value.expose().as_bytes().to_vec(),
        None => {
            // A face-authentication card answers as a blocked PIN.
            open(ctx, &AID_JPKI, 0x0018)?;
            expect(
                &verify(ctx, &[])?,
                StatusWord::TriesLeft(0),
                "empty VERIFY, no PIN set",
            )?;
            return expect(
                &verify(ctx, b"1234")?,
                StatusWord::ReferenceDataBlocked,
                "VERIFY with no PIN set",
            );
        }
    };
    let wrong = if pin == b"0000" { b"9999" } else { b"0000" };
    open(ctx, &AID_JPKI, 0x0018)?;
    let mut tries = ctx.profile.auth_pin.as_ref().map_or(0, |p| p.tries_left);
    while tries > 0 {
        tries -= 1;
        expect(
            &verify(ctx, wrong)?,
            StatusWord::TriesLeft(tries),
            "wrong PIN",
        )?;
    }
    expect(
        &verify(ctx, &pin)?,
        StatusWord::ReferenceDataBlocked,
        "right PIN once blocked",
    )?;
    expect(
        &verify(ctx, wrong)?,
        StatusWord::ReferenceDataBlocked,
        "wrong PIN once blocked",
    )?;
    expect(
        &verify(ctx, &[])?,
        StatusWord::TriesLeft(0),
        "empty VERIFY once blocked",
    )
}

// --- measuring ------------------------------------------------------------------------------

use crate::channel::trace::Trace;
use reports::{Measurement, Verdict};

/// What a check's APDU trace measures: how many commands were answered, and the slowest.
pub fn apdu_measurements(trace: &Trace) -> Vec<Measurement> {
    let apdu_ms: Vec<f64> = trace
        .entries
        .iter()
        .filter(|e| e.sw.is_some())
        .map(|e| e.elapsed.as_secs_f64() * 1e3)
        .collect();
    let mut measurements = vec![Measurement::new("apdus", apdu_ms.len() as f64, "count")];
    if let Some(max) = apdu_ms.iter().copied().reduce(f64::max) {
        measurements.push(Measurement::new(
            "apdu_max",
            (max * 1000.0).round() / 1000.0,
            "ms",
        ));
    }
    measurements
}
