//! Checkpoint metadata kept per domain.

/// The checkpoints of one domain, as a tree.
#[derive(Debug, Clone, Default)]
pub(crate) struct CheckpointTree {
    pub items: Vec<CheckpointObj>,
}

#[derive(Debug, Clone)]
pub(crate) struct CheckpointObj {
    pub name: String,
    pub parent: Option<String>,
}

impl CheckpointTree {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
