//! Placeholder: filled in by the nodedev model.
