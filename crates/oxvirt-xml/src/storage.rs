//! Placeholder: filled in by the storage model.
