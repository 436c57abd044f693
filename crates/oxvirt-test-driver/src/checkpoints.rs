//! Checkpoint metadata kept per domain.

/// The checkpoints of one domain, as a tree.
#[derive(Debug, Clone, Default)]
pub(crate) struct CheckpointTree {
    pub items: Vec<CheckpointObj>,
}

#[derive(Debug, Clone)]
#[allow(dead_code)] // read by the snapshot/object APIs as they land
pub(crate) struct CheckpointObj {
    pub name: String,
    pub parent: Option<String>,
}

impl CheckpointTree {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
