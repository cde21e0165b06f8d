//! Qualification service simulator: placeholder, being written.
