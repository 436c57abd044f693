//! Networks, storage pools and volumes, host interfaces, node devices and
//! secrets held by the driver.

/// The non-domain objects of one driver instance.
#[derive(Debug, Default)]
#[allow(dead_code)] // read by the snapshot/object APIs as they land
pub(crate) struct Objects {}

use std::path::Path;

use oxvirt_core::Result;
use oxvirt_xml::dom::Element;

use crate::state::State;

/// Loads the non-domain objects of a node document.
pub(crate) fn load(
    _st: &mut State,
    _root: &Element,
    _file: Option<&Path>,
    _resolve: fn(&Element, Option<&Path>) -> Result<Element>,
) -> Result<()> {
    Ok(())
}
