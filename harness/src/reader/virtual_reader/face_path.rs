//! The reader's face path: 照合番号B read off the printed surface and VERIFYed on the
//! card-surface application, the chip photo read and decoded, then matched against the
//! camera within a time limit and a number of tries. On failure the PIN is offered.
//! Matching, the camera and liveness are behind [`crate::reader::FaceCamera`]; this file is
//! the reader's side of the card and its screens.

use super::VirtualReader;
use crate::reader::events::{EventKind, FaceResult};
use crate::rules::CardFailure;
use camera_replay::replay::Pacing;
use card_emulator::card::{AID_JPKI, AID_SURFACE};
use card_emulator::{commands, StatusWord};
use std::time::Instant;

impl VirtualReader {
    pub(super) fn face_path(&mut self) {
        self.screen("face_auth");
        if self.smartphone {
            self.log(EventKind::Note {
                text: "a smartphone has no card-surface application: no face path".into(),
            });
            return self.face_failed(FaceResult::Unavailable);
        }
        let Some(mut kit) = self.setup.face.take() else {
            self.log(EventKind::Note {
                text: "this reader has no camera".into(),
            });
            return self.face_failed(FaceResult::Unavailable);
        };
        self.face_failures = kit.earlier_failures();
        if self.face_failures >= kit.policy().lock_after {
            self.screen("face_locked");
            return self.face_failed(FaceResult::Locked);
        }
        let outcome = self.face_attempts(kit.as_mut());
        self.timings.extend(kit.timings());
        if let Some(camera) = kit.stop_camera() {
            let j = camera.jitter;
            let text = match camera.pacing {
                // Nothing paced, nothing dropped: the frames are the clip's, in order.
                Pacing::Virtual => format!(
                    "camera (virtual clock): {} frames taken, {} unreadable",
                    camera.frames_released, camera.source_errors
                ),
                // Jitter in milliseconds with three decimals: a whole number of 4 digits in a
                // note could read as the card's PIN (the secret check would then fail the
                // device for its own timing, docs/adapter-protocol.md).
                _ => format!(
                    "camera: {} frames released, {} dropped, {} unreadable; release jitter p50 {:.3} ms, p95 {:.3} ms, max {:.3} ms",
                    camera.frames_released, camera.frames_dropped, camera.source_errors,
                    j.p50_us as f64 / 1000.0, j.p95_us as f64 / 1000.0, j.max_us as f64 / 1000.0
                ),
            };
            self.log(EventKind::Note { text });
        }
        match outcome {
            Ok(()) => {
                self.face_failures = 0;
                self.log(EventKind::FaceResult {
                    result: FaceResult::Matched,
                    consecutive_failures: 0,
                });
                self.screen("face_ok");
                self.authenticated(crate::rules::AuthMethod::Face);
            }
            Err(result) => self.face_failed(result),
        }
    }

    /// 照合番号B, the chip photo, then the tries; `Err` says how the face path failed. Without
    /// the photo nothing was compared: the path is `unavailable`, not a non-match (which
    /// the bench would not back: the card never gave the photo).
    fn face_attempts(&mut self, kit: &mut dyn crate::reader::FaceCamera) -> Result<(), FaceResult> {
        let started = Instant::now();
        let photo = self.read_chip_photo();
        self.timings
            .push(("face.read_chip_photo".into(), started.elapsed()));
        let photo = photo.map_err(|why| {
            self.log(EventKind::Note { text: why });
            FaceResult::Unavailable
        })?;
        let started = Instant::now();
        let enrolled = kit.enrol_chip_photo(&photo);
        self.timings.push(("face.enrol".into(), started.elapsed()));
        enrolled.map_err(|why| {
            self.log(EventKind::Note {
                text: format!("chip photo unusable: {why}"),
            });
            FaceResult::NoMatch
        })?;
        self.screen("face_camera");
        if let Err(why) = kit.start_camera() {
            self.log(EventKind::Note {
                text: format!("camera: {why}"),
            });
            return Err(FaceResult::Unavailable);
        }
        let started = Instant::now();
        let mut attack_seen = false;
        for attempt in 1..=kit.policy().tries {
            let tried = kit.attempt();
            let presentation = match &tried.presentation {
                Ok(()) => "bona fide".to_owned(),
                Err(why) => format!("attack suspected ({why})"),
            };
            let matched = tried.matched && tried.presentation.is_ok();
            self.log(EventKind::FaceAttempt {
                attempt,
                frames: tried.frames,
                best_score: tried.best_score,
                matched,
                presentation,
            });
            if matched {
                self.timings.push(("face.match".into(), started.elapsed()));
                return Ok(());
            }
            attack_seen |= tried.presentation.is_err();
            self.face_failures = self.face_failures.saturating_add(1);
            if self.face_failures >= kit.policy().lock_after {
                self.screen("face_locked");
                break;
            }
            if tried.camera_ended {
                break;
            }
            self.screen("face_retry");
        }
        self.timings.push(("face.match".into(), started.elapsed()));
        Err(if attack_seen {
            FaceResult::AttackRejected
        } else {
            FaceResult::NoMatch
        })
    }

    /// VERIFY 照合番号B on the card-surface application and read DF27 out of EF 0002.
    fn read_chip_photo(&mut self) -> Result<Vec<u8>, String> {
        let code = self
            .surface_code_b
            .take()
            .ok_or("照合番号B could not be read off the card")?;
        self.exchange(&commands::select_aid(&AID_SURFACE))
            .and_then(|_| self.exchange(&commands::select_ef(0x0012)))
            .map_err(|why| format!("card-surface application: {why}"))?;
        let sw = self
            .transmit(&commands::verify(code.expose().as_bytes()))
            .map_err(|e| format!("VERIFY 照合番号B: {e}"))?;
        self.log(EventKind::VerifyAnswered { sw: sw.to_u16() });
        if sw != StatusWord::Ok {
            return Err(format!("VERIFY 照合番号B answered {sw}"));
        }
        self.exchange(&commands::select_ef(0x0002))?;
        let record = self.read_whole_ef()?;
        surface_photo(&record)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "the surface record has no photo (DF27)".into())
    }

    /// The face path failed: a face-authentication card (no PIN) goes to the staff
    /// visual-check mode (目視確認); any other card is offered the PIN.
    fn face_failed(&mut self, result: FaceResult) {
        self.log(EventKind::FaceResult {
            result,
            consecutive_failures: self.face_failures,
        });
        if result != FaceResult::Locked {
            self.screen("face_failed");
        }
        self.after_face_failure = true;
        if self.face_card_without_pin() {
            self.state = super::State::VisualCheck;
            self.screen("visual_check");
            return;
        }
        self.offer_pin(CardFailure::FaceMismatch);
    }

    /// A face-authentication card: its JPKI application has no signature certificate (EF
    /// 0001 not found), and so no PIN to offer. A phone has no face path to fail.
    fn face_card_without_pin(&mut self) -> bool {
        if self.smartphone {
            return false;
        }
        let probe = self.exchange(&commands::select_aid(&AID_JPKI)).map(|_| {
            self.transmit(&commands::select_ef(0x0001))
                .map(|sw| sw == StatusWord::FileNotFound)
                .unwrap_or(false)
        });
        probe.unwrap_or(false)
    }
}

/// DF27 inside the FF20 surface record.
fn surface_photo(record: &[u8]) -> Option<&[u8]> {
    let (tag, header, len) = card_emulator::tlv::read_header(record)?;
    if tag != [0xFF, 0x20] {
        return None;
    }
    card_emulator::tlv::parse_all(record.get(header..header + len)?)?
        .into_iter()
        .find(|(tag, _)| *tag == [0xDF, 0x27])
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::surface_photo;
    use card_emulator::tlv::tlv;

    #[test]
    fn the_photo_is_found_in_the_surface_record() {
        let inner = [tlv(&[0xDF, 0x21], &[1, 2]), tlv(&[0xDF, 0x27], b"jp2")].concat();
        assert_eq!(
            surface_photo(&tlv(&[0xFF, 0x20], &inner)),
            Some(&b"jp2"[..])
        );
        let empty = [tlv(&[0xDF, 0x27], b"")].concat();
        assert_eq!(surface_photo(&tlv(&[0xFF, 0x20], &empty)), None);
        assert_eq!(surface_photo(&tlv(&[0xFF, 0x21], &inner)), None);
        assert_eq!(surface_photo(&[0xFF]), None);
    }
}
