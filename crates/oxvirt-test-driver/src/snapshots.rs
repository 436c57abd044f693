//! Snapshot metadata kept per domain.

/// The snapshots of one domain, as a tree with a current snapshot.
#[derive(Debug, Clone, Default)]
#[allow(dead_code)] // read by the snapshot/object APIs as they land
pub(crate) struct SnapshotTree {
    pub items: Vec<SnapshotObj>,
    pub current: Option<String>,
}

#[derive(Debug, Clone)]
#[allow(dead_code)] // read by the snapshot/object APIs as they land
pub(crate) struct SnapshotObj {
    pub name: String,
    pub parent: Option<String>,
}

impl SnapshotTree {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
