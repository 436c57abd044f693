//! The fake host: `test:///default`'s built-in objects, custom node
//! files, node information and capabilities.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use oxvirt_core::error::{code, from};
use oxvirt_core::event::EventHub;
use oxvirt_core::types::{reason, DomainState};
use oxvirt_core::{Error, Result};
use oxvirt_xml::dom::{self, Element};
use oxvirt_xml::domain::{Domain, ParseFlags};

use crate::state::{self, Cell, Driver, State, FROM};

/// The objects of `test:///default` (libvirt's defaultConnXML).
pub(crate) const DEFAULT_NODE_XML: &str = concat!(
    "<node>",
    "<domain type='test'>",
    "  <name>test</name>",
    "  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>",
    "  <memory>8388608</memory>",
    "  <currentMemory>2097152</currentMemory>",
    "  <vcpu>2</vcpu>",
    "  <os>",
    "    <type>hvm</type>",
    "  </os>",
    "  <devices>",
    "    <disk type='file' device='disk'>",
    "      <source file='/guest/diskimage1'/>",
    "      <target dev='vda' bus='virtio'/>",
    "      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>",
    "    </disk>",
    "    <interface type='network'>",
    "      <mac address='aa:bb:cc:dd:ee:ff'/>",
    "      <source network='default' bridge='virbr0'/>",
    "      <address type='pci' domain='0x0000' bus='0x00' slot='0x1' function='0x0'/>",
    "    </interface>",
    "    <memballoon model='virtio'>",
    "      <address type='pci' domain='0x0000' bus='0x00' slot='0x2' function='0x0'/>",
    "    </memballoon>",
    "  </devices>",
    "</domain>",
    "<network>",
    "  <name>default</name>",
    "  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>",
    "  <bridge name='virbr0'/>",
    "  <forward/>",
    "  <ip address='192.168.122.1' netmask='255.255.255.0'>",
    "    <dhcp>",
    "      <range start='192.168.122.2' end='192.168.122.254'/>",
    "    </dhcp>",
    "  </ip>",
    "</network>",
    "<interface type=\"ethernet\" name=\"eth1\">",
    "  <start mode=\"onboot\"/>",
    "  <mac address=\"aa:bb:cc:dd:ee:ff\"/>",
    "  <mtu size=\"1492\"/>",
    "  <protocol family=\"ipv4\">",
    "    <ip address=\"192.168.0.5\" prefix=\"24\"/>",
    "    <route gateway=\"192.168.0.1\"/>",
    "  </protocol>",
    "</interface>",
    "<pool type='dir'>",
    "  <name>default-pool</name>",
    "  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>",
    "  <target>",
    "    <path>/default-pool</path>",
    "  </target>",
    "</pool>",
    "<device>",
    "  <name>computer</name>",
    "  <capability type='system'>",
    "    <hardware>",
    "      <vendor>Libvirt</vendor>",
    "      <version>Test driver</version>",
    "      <serial>123456</serial>",
    "      <uuid>11111111-2222-3333-4444-555555555555</uuid>",
    "    </hardware>",
    "    <firmware>",
    "      <vendor>Libvirt</vendor>",
    "      <version>Test Driver</version>",
    "      <release_date>01/22/2007</release_date>",
    "    </firmware>",
    "  </capability>",
    "</device>",
    "<device>",
    "  <name>scsi_host1</name>",
    "  <parent>computer</parent>",
    "  <capability type='scsi_host'>",
    "    <host>1</host>",
    "    <unique_id>0</unique_id>",
    "    <capability type='fc_host'>",
    "      <wwnn>2000000012341234</wwnn>",
    "      <wwpn>1000000012341234</wwpn>",
    "      <fabric_wwn>2000000043214321</fabric_wwn>",
    "    </capability>",
    "    <capability type='vport_ops'>",
    "      <max_vports>127</max_vports>",
    "      <vports>1</vports>",
    "    </capability>",
    "  </capability>",
    "</device>",
    "<device>",
    "  <name>scsi_host2</name>",
    "  <parent>computer</parent>",
    "  <capability type='scsi_host'>",
    "    <host>2</host>",
    "    <unique_id>1</unique_id>",
    "    <capability type='fc_host'>",
    "      <wwnn>2000000056785678</wwnn>",
    "      <wwpn>1000000056785678</wwpn>",
    "      <fabric_wwn>2000000087658765</fabric_wwn>",
    "    </capability>",
    "    <capability type='vport_ops'>",
    "      <max_vports>127</max_vports>",
    "      <vports>0</vports>",
    "    </capability>",
    "  </capability>",
    "</device>",
    "<device>",
    "  <name>scsi_host11</name>",
    "  <parent>scsi_host1</parent>",
    "  <capability type='scsi_host'>",
    "    <host>11</host>",
    "    <unique_id>10</unique_id>",
    "    <capability type='fc_host'>",
    "      <wwnn>2000000034563456</wwnn>",
    "      <wwpn>1000000034563456</wwpn>",
    "      <fabric_wwn>2000000043214321</fabric_wwn>",
    "    </capability>",
    "  </capability>",
    "</device>",
    "</node>"
);

/// What `virsh sysinfo` shows for the test driver.
pub(crate) const SYSINFO: &str = "<sysinfo type='smbios'>\n  <bios>\n    <entry name='vendor'>LENOVO</entry>\n    <entry name='version'>G4ETA1WW (2.61 )</entry>\n    <entry name='date'>05/07/2014</entry>\n    <entry name='release'>2.61</entry>\n  </bios>\n</sysinfo>\n";

fn new_driver(state: State) -> Driver {
    Driver {
        state: Mutex::new(state),
        events: EventHub::new(),
        caps: std::sync::OnceLock::new(),
    }
}

/// Builds the shared `test:///default` instance.
pub(crate) fn open_default() -> Result<Driver> {
    let mut st = State::new(state::default_node_info());
    st.cells = (0..2u64)
        .map(|i| Cell {
            cpus: 8,
            mem: (i + 1) * 2048 * 1024,
            free_mem: (i + 1) * 1024 * 1024,
        })
        .collect();
    let root = dom::parse(DEFAULT_NODE_XML, "(test driver)")
        .map_err(|e| Error::from_xml(e.into(), from::TEST))?;
    load_node(&mut st, &root, None)?;
    Ok(new_driver(st))
}

/// Builds a private instance from a node file.
pub(crate) fn open_file(path: &str) -> Result<Driver> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            code::SYSTEM_ERROR,
            from::TEST,
            format!(
                "failed to read file '{}': {}",
                path,
                oxvirt_core::error::strerror(&e)
            ),
        )
    })?;
    let root = dom::parse(&text, path).map_err(|e| Error::from_xml(e.into(), from::TEST))?;
    if root.name != "node" {
        return Err(Error::new(
            code::XML_ERROR,
            from::XML,
            format!("expecting root element of 'node', not '{}'", root.name),
        ));
    }
    let mut st = State::new(state::default_node_info());
    parse_node_info(&mut st, &root)?;
    load_node(&mut st, &root, Some(Path::new(path)))?;
    Ok(new_driver(st))
}

fn xml_err(msg: &str) -> Error {
    Error::new(code::XML_ERROR, FROM, msg)
}

/// Reads `/node/cpu` and `/node/memory` (testParseNodeInfo).
fn parse_node_info(st: &mut State, root: &Element) -> Result<()> {
    let uint = |parent: Option<&Element>, name: &str, what: &str| -> Result<Option<u32>> {
        match parent.and_then(|p| p.child(name)) {
            None => Ok(None),
            Some(e) => e
                .text()
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| xml_err(&format!("invalid node cpu {} value", what))),
        }
    };
    let cpu = root.child("cpu");
    let n = &mut st.node;
    if let Some(v) = uint(cpu, "nodes", "nodes")? {
        n.nodes = v;
    }
    if let Some(v) = uint(cpu, "sockets", "sockets")? {
        n.sockets = v;
    }
    if let Some(v) = uint(cpu, "cores", "cores")? {
        n.cores = v;
    }
    if let Some(v) = uint(cpu, "threads", "threads")? {
        n.threads = v;
    }
    n.cpus = n.cores * n.threads * n.sockets * n.nodes;
    if let Some(active) = uint(cpu, "active", "active")? {
        if active < n.cpus {
            n.cpus = active;
        }
    }
    if let Some(v) = uint(cpu, "mhz", "mhz")? {
        n.mhz = v;
    }
    if let Some(m) = cpu.and_then(|c| c.child("model")) {
        let m = m.text();
        if m.len() >= 32 {
            return Err(Error::internal(
                FROM,
                format!("Model {} too big for destination", m),
            ));
        }
        n.model = m;
    }
    if let Some(mem) = root.child("memory") {
        n.memory = mem
            .text()
            .trim()
            .parse()
            .map_err(|_| xml_err("invalid node memory value"))?;
    }
    Ok(())
}

/// An element, or the document its `file=` attribute names, relative to
/// the node file (testParseXMLDocFromFile).
fn resolve(el: &Element, file: Option<&Path>) -> Result<Element> {
    let Some(rel) = el.attr("file") else {
        return Ok(el.clone());
    };
    let path = match file.and_then(Path::parent) {
        Some(dir) if !rel.starts_with('/') => dir.join(rel),
        _ => PathBuf::from(rel),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::new(
            code::SYSTEM_ERROR,
            from::TEST,
            format!(
                "failed to read file '{}': {}",
                path.display(),
                oxvirt_core::error::strerror(&e)
            ),
        )
    })?;
    let doc = dom::parse(&text, &path.to_string_lossy())
        .map_err(|e| Error::from_xml(e.into(), from::TEST))?;
    if doc.name != el.name {
        return Err(Error::new(
            code::XML_ERROR,
            from::XML,
            format!(
                "expecting root element of '{}', not '{}'",
                el.name, doc.name
            ),
        ));
    }
    Ok(doc)
}

/// The `test:` namespace data of a domain in a node file.
struct TestNs {
    runstate: DomainState,
    transient: bool,
    has_managed_save: bool,
}

fn test_ns(el: &Element) -> Result<TestNs> {
    let find = |local: &str| {
        el.elements()
            .find(|c| c.name.contains(':') && c.local_name() == local)
    };
    let transient = find("transient").is_some();
    let has_managed_save = find("hasmanagedsave").is_some();
    let runstate = match find("runstate") {
        None => DomainState::Running,
        Some(r) => {
            let t = r.text();
            let v: u32 = t.trim().parse().map_err(|_| xml_err("invalid runstate"))?;
            DomainState::from_i32(v as i32)
                .ok_or_else(|| xml_err(&format!("runstate '{}' out of range'", v)))?
        }
    };
    if transient && runstate == DomainState::Shutoff {
        return Err(xml_err("transient domain cannot have runstate 'shutoff'"));
    }
    if has_managed_save && runstate != DomainState::Shutoff {
        return Err(xml_err(
            "domain with managedsave data can only have runstate 'shutoff'",
        ));
    }
    Ok(TestNs {
        runstate,
        transient,
        has_managed_save,
    })
}

/// Loads the objects of a `<node>` document (testOpenParse).
fn load_node(st: &mut State, root: &Element, file: Option<&Path>) -> Result<()> {
    for el in root.children_named("domain") {
        let el = resolve(el, file)?;
        let ns = test_ns(&el)?;
        let flags = ParseFlags {
            inactive: true,
            ..Default::default()
        };
        let mut def = Domain::from_element(&el, flags, &state::parse_options())
            .map_err(|e| Error::from_xml(e, from::DOMAIN))?;
        state::prepare_def(&mut def);
        if st.domains.find_uuid(&def.uuid).is_some() || st.domains.find_name(&def.name).is_some() {
            return Err(Error::operation_failed(
                FROM,
                format!(
                    "domain '{}' already exists with uuid {}",
                    def.name, def.uuid
                ),
            ));
        }
        let mut obj = state::new_obj(def);
        obj.persistent = !ns.transient;
        obj.has_managed_save = ns.has_managed_save;
        obj.iothreads = crate::domains::iothreads_of(&obj.def);
        let idx = st.domains.insert(obj);
        if ns.runstate != DomainState::Shutoff {
            st.start_state(idx, reason::running::BOOTED);
        } else {
            let mut o = st.obj_mut(idx)?;
            o.remove_transient_def();
            o.set_state(DomainState::Shutoff, 0);
        }
        let mut o = st.obj_mut(idx)?;
        o.set_state(ns.runstate, 0);
        crate::domains::check_taint(&mut o);
        crate::snapshots::load_from_node(&mut o, &el, file, resolve)?;
    }
    crate::objects::load(st, root, file, resolve)?;
    crate::hostdev::load(st, root, file, resolve)?;
    for user in root
        .child("auth")
        .into_iter()
        .flat_map(|a| a.children_named("user"))
    {
        let name = user.text();
        if name.is_empty() {
            return Err(xml_err("missing username in /node/auth/user field"));
        }
        st.auth_users
            .push((name, user.attr("password").map(str::to_string)));
    }
    Ok(())
}

/// The host name, as `virsh hostname` shows it.
pub(crate) fn hostname() -> Result<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return Err(Error::system(
            FROM,
            "failed to determine host name",
            &std::io::Error::last_os_error(),
        ));
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// virNodeGetCellsFreeMemory
pub(crate) fn cells_free_memory(st: &State, start: i32, max: i32) -> Result<Vec<u64>> {
    let n = st.cells.len() as i32;
    if start < 0 || start >= n {
        return Err(Error::invalid_arg(FROM, "Range exceeds available cells"));
    }
    let end = (start.saturating_add(max.max(0))).min(n);
    Ok(st.cells[start as usize..end as usize]
        .iter()
        .map(|c| c.mem)
        .collect())
}

/// The capabilities document of the fake host.
pub(crate) fn capabilities(st: &State) -> String {
    crate::caps::format(st)
}

/// virCPUGetModels for an architecture name.
pub fn cpu_model_names(arch: &str) -> Result<Vec<String>> {
    oxvirt_core::cpumap::model_names(arch, from::NONE)
}

/// virCPUBaseline of host CPUs, for the simple case of one CPU model
/// without feature expansion.
pub fn baseline_cpu(cpus: &[String], flags: u32) -> Result<String> {
    // virCPUDefListParse
    if cpus.is_empty() {
        return Err(Error::new(code::INVALID_ARG, from::CPU, "no CPUs given"));
    }
    let mut models = Vec::new();
    for x in cpus {
        let e = oxvirt_xml::dom::parse(x, "(CPU_definition)")
            .map_err(|_| Error::new(code::XML_ERROR, from::CPU, "(CPU_definition)"))?;
        models.push(e);
    }
    let first = &models[0];
    let model = first.child_text("model").ok_or_else(|| {
        Error::new(
            code::INVALID_ARG,
            from::CPU,
            "no CPU model specified at index 0",
        )
    })?;
    if models.len() > 1 || flags != 0 {
        return Err(Error::no_support("virConnectBaselineCPU"));
    }
    let mut s = String::from("<cpu mode='custom' match='exact'>\n");
    s += &format!("  <model fallback='forbid'>{}</model>\n", model);
    if let Some(v) = first.child_text("vendor") {
        s += &format!("  <vendor>{}</vendor>\n", v);
    }
    s += "</cpu>\n";
    Ok(s)
}

/// testConnectFindStoragePoolSources.
pub fn find_pool_sources(kind: &str, src_spec: Option<&str>) -> Result<String> {
    const TYPES: &[&str] = &[
        "dir",
        "fs",
        "netfs",
        "logical",
        "disk",
        "iscsi",
        "iscsi-direct",
        "scsi",
        "mpath",
        "rbd",
        "sheepdog",
        "gluster",
        "zfs",
        "vstorage",
    ];
    if kind == "dir" {
        return Err(Error::internal(
            from::TEST,
            format!("unknown storage pool type {}", kind),
        ));
    }
    let mut host = None;
    if let Some(spec) = src_spec {
        let root = dom::parse(spec, "(storage_source_specification)")
            .map_err(|e| Error::new(code::XML_ERROR, from::STORAGE, e.to_string()))?;
        if root.name != "source" {
            return Err(Error::new(
                code::XML_ERROR,
                from::STORAGE,
                format!("expecting root element of 'source', not '{}'", root.name),
            ));
        }
        host = root
            .child("host")
            .and_then(|h| h.attr("name"))
            .map(str::to_string);
    }
    match kind {
        "logical" if TYPES.contains(&kind) => Ok(concat!(
            "<sources>\n",
            "  <source>\n",
            "    <device path='/dev/sda20'/>\n",
            "    <name>testvg1</name>\n",
            "    <format type='lvm2'/>\n",
            "  </source>\n",
            "  <source>\n",
            "    <device path='/dev/sda21'/>\n",
            "    <name>testvg2</name>\n",
            "    <format type='lvm2'/>\n",
            "  </source>\n",
            "</sources>\n"
        )
        .to_string()),
        "netfs" => match host {
            Some(h) => Ok(format!(
                "<sources>\n  <source>\n    <host name='{}'/>\n    <dir path='/testshare'/>\n    <format type='nfs'/>\n  </source>\n</sources>\n",
                h
            )),
            None => Err(Error::invalid_arg(
                from::STORAGE,
                "hostname must be specified for netfs sources",
            )),
        },
        _ => Err(Error::new(
            code::NO_SUPPORT,
            from::STORAGE,
            format!("pool type '{}' does not support source discovery", kind),
        )),
    }
}
