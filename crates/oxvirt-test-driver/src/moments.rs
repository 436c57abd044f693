//! Snapshot and checkpoint trees: oxvirt-core's shared moment layer
//! (`oxvirt_core::moments`), named here for the test driver's API files.

pub(crate) use crate::base::check_flags;
pub(crate) use oxvirt_core::moments::{
    delete_moment, no_snapshot, snapshot_filters, CheckpointTree, MomentDef, SnapshotTree,
};
