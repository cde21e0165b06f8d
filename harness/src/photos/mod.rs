//! Photos: the cached test photos (each checked by SHA-256, each labelled with whose face it
//! shows) and the chip photo made from them (greyscale JPEG 2000, as on a real card).

mod cache;
mod chip;
mod list;

pub use cache::{
    cache_dir, person_of, photo_path, photo_path_in, CACHE_ENV, KNOWN_PHOTOS, PERSON_OF_PHOTO,
};
pub use chip::{
    decode_chip_photo, encode_chip_photo, encode_chip_photo_cropped, encode_jp2,
    prepare_chip_photo, PhotoCrop, COMPRESSION_RATIO, PHOTO_HEIGHT, PHOTO_WIDTH,
};
pub use list::{photo_rows, photo_rows_in, Cached, PhotoRow};
use std::path::PathBuf;

/// Everything that can go wrong with the test photos and the chip photo codec.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("unknown photo {name:?}; known photos: {known}")]
    UnknownPhoto { name: String, known: String },
    #[error("photo {name} is missing: no file at {path}; run .ci/fetch-photos")]
    MissingPhoto { name: String, path: PathBuf },
    #[error("cannot read photo {path}: {source}; run .ci/fetch-photos")]
    ReadPhoto {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "photo {path} is corrupt or outdated (SHA-256 {actual}, expected {expected}); \
         delete it and run .ci/fetch-photos"
    )]
    PhotoHashMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("cannot decode source image: {0}")]
    SourceImage(#[from] image::ImageError),
    #[error("JPEG 2000 encoding failed: {0}")]
    Jp2Encode(String),
    #[error("JPEG 2000 decoding failed: {0}")]
    Jp2Decode(String),
    #[error("the crop {crop} is not inside the {width}×{height} photo (or is empty)")]
    CropOutside {
        crop: PhotoCrop,
        width: u32,
        height: u32,
    },
}
