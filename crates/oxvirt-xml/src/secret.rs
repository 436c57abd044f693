//! Placeholder: filled in by the secret model.
