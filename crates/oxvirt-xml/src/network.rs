//! Placeholder: filled in by the network model.
