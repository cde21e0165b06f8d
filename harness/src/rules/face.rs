//! The face path's rule: after this many consecutive failed face matches the reader locks
//! the face path for the card, and only the PIN (or the desk) remains
//! (docs/reception-rules.md, "Face-authentication lock" \[soft]).

/// Consecutive face failures at which the reader locks the face path.
pub const FACE_LOCK_AFTER: u8 = 10;
