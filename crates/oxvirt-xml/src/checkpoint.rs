//! Placeholder: filled in by the checkpoint model.
