//! Placeholder: filled in by the snapshot model.
