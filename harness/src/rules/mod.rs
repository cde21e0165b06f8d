//! Reception rules (the oracle): placeholder, being written.
