//! Signed statements over evidence: an in-toto Statement in a DSSE envelope, Ed25519.
//! (Being written.)
