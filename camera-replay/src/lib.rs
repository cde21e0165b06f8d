//! Camera replay and the reference face matcher.
//!
//! Recorded (or synthesised) camera video becomes a stream of timestamped [`Frame`]s; the
//! stream can be paced at the source's frame rate, perturbed deterministically, or turned
//! into a presentation attack; the matcher (YuNet + SFace on ONNX Runtime through `ort`)
//! scores frames against an enrolment image. This crate knows nothing of cards, scenarios
//! or reports: the harness wires it in.

pub mod frame;

// Shared below everything else: decoding encoded images, image kernels.
pub mod codec;
pub mod imaging;

// Frames in: sources, pacing, perturbations, attacks, liveness.
pub mod attack;
pub mod liveness;
pub mod perturb;
pub mod replay;
pub mod source;

// The reference face matcher.
pub mod matcher;
pub mod runtime;
