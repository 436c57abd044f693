//! Placeholder: filled in by the capabilities model.
