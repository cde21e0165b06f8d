//! Card profiles: the profile file format (`profile_file`) and its JSON Schema (`schema`), and each profile loaded and built
//! once per run (`LoadedCard`): the card image, the service's key for its certificate, and
//! whose faces are on the chip and before the camera.

mod profile_file;
mod schema;

pub use profile_file::{
    cached_photo, load_profile, load_profile_file, named_photos, no_photos, parse_profile,
    parse_profile_file, CardFaces, PhotoResolver, ProfileError, ProfileFile, SECRET_KEYS,
};
pub use schema::profile_json_schema;

use crate::qualification::CertificateKey;
use card_emulator::{CardImage, CardProfile};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Which card a case uses: its profile file, and the holder's birth date when the scenario
/// sets one (`birth_date:`), which the card is then built with (the chip's birth date, the
/// certificates' holder and 照合番号B follow it).
pub type CardKey = (PathBuf, Option<time::Date>);

/// The cards of a run, each built once per key.
pub type LoadedCards = BTreeMap<CardKey, Arc<LoadedCard>>;

/// A card profile with its built image, shared by every case that uses it.
pub struct LoadedCard {
    pub profile: CardProfile,
    pub image: Arc<CardImage>,
    /// The service's key for this card (its authentication certificate), parsed once.
    pub certificate_key: CertificateKey,
    /// Whose faces are on the chip and before the camera (the face path's ground truth).
    pub faces: CardFaces,
}

/// Why a run's cards could not be loaded: a broken profile, or a card that cannot be built
/// from it (both the input's fault).
#[derive(Debug, thiserror::Error)]
pub enum CardsError {
    #[error("{0}")]
    Profile(#[from] ProfileError),
    #[error("{path}: {message}")]
    Build { path: PathBuf, message: String },
}

impl crate::failure::Classified for CardsError {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Input
    }

    fn rendered(&self) -> bool {
        matches!(self, CardsError::Profile(e) if e.rendered())
    }
}

/// Every card a run names, each profile read once and each card built once, before anything
/// runs: a broken profile stops the run before its first case.
pub fn load_cards(
    keys: impl IntoIterator<Item = CardKey>,
    photos: PhotoResolver<'_>,
) -> Result<LoadedCards, CardsError> {
    let mut cards = BTreeMap::new();
    let mut files: BTreeMap<PathBuf, ProfileFile> = BTreeMap::new();
    for key in keys {
        if cards.contains_key(&key) {
            continue;
        }
        let (path, born) = &key;
        let path = path.as_path();
        if !files.contains_key(path) {
            files.insert(path.to_path_buf(), load_profile_file(path, photos)?);
        }
        let Some(file) = files.get(path) else {
            continue;
        };
        let mut profile = file.profile.clone();
        if let Some(born) = born {
            profile.holder.birth_date = *born;
        }
        let build = |message: String| CardsError::Build {
            path: path.to_path_buf(),
            message,
        };
        let image = CardImage::build(&profile).map_err(|e| build(e.to_string()))?;
        let certificate_key =
            CertificateKey::from_der(&image.auth_certificate).map_err(|e| build(e.to_string()))?;
        cards.insert(
            key.clone(),
            Arc::new(LoadedCard {
                profile,
                image: Arc::new(image),
                certificate_key,
                faces: file.faces.clone(),
            }),
        );
    }
    Ok(cards)
}

/// The holder's birth date of each loaded card, by key (to check them against the cases'
/// visit dates: `scenario::suite::born_after_visit`).
pub fn birth_dates(cards: &LoadedCards) -> BTreeMap<CardKey, time::Date> {
    cards
        .iter()
        .map(|(key, card)| (key.clone(), card.profile.holder.birth_date))
        .collect()
}
