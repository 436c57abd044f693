//! Placeholder: filled in by the interface model.
