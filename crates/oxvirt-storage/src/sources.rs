//! Storage pool source discovery (virConnectFindStoragePoolSources) for
//! network file systems: the exports `showmount` lists on a host.

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_host::Command;
use oxvirt_xml::storage::{PoolSource, PoolType};

use crate::objects::FROM;

/// Parses `showmount --no-headers --exports` output: the exported
/// directories (spaces inside allowed), each with the host.
pub fn parse_showmount(host: &str, out: &str) -> Result<Vec<PoolSource>> {
    let mut v = Vec::new();
    for line in out.lines() {
        let line = line.trim_end();
        if !line.starts_with('/') {
            continue;
        }
        // "^(/.*\S) +\S+$": the last field is the client list.
        let Some((dir, _clients)) = line.rsplit_once(' ') else {
            continue;
        };
        let dir = dir.trim_end();
        if dir.is_empty() {
            continue;
        }
        let name = dir.rsplit('/').next().unwrap_or("");
        if name.is_empty() {
            return Err(Error::internal(
                FROM,
                format!("invalid netfs path (ends in /): {}", dir),
            ));
        }
        v.push(PoolSource {
            hosts: vec![(host.to_string(), None)],
            dir: Some(dir.to_string()),
            format: Some("nfs".into()),
            ..Default::default()
        });
    }
    Ok(v)
}

/// virStorageBackendFileSystemNetFindPoolSources
pub fn find_netfs(spec: Option<&str>, flags: u32) -> Result<String> {
    oxvirt_core::error::check_flags(
        flags,
        0,
        "virStorageBackendFileSystemNetFindPoolSources",
        FROM,
    )?;
    let Some(spec) = spec else {
        return Err(Error::invalid_arg(
            FROM,
            "hostname must be specified for netfs sources",
        ));
    };
    let source = oxvirt_xml::storage::parse_source_spec(spec, PoolType::Netfs)
        .map_err(|e| Error::from_xml(e, FROM))?;
    if source.hosts.len() != 1 {
        return Err(Error::new(
            code::CONFIG_UNSUPPORTED,
            FROM,
            "Expected exactly 1 host for the storage pool",
        ));
    }
    let host = source.hosts[0].0.clone();
    let mut cmd = Command::new(crate::tool("showmount"), FROM);
    cmd.args(["--no-headers", "--exports", &host]);
    let found = cmd.run().and_then(|o| parse_showmount(&host, &o.stdout));
    match found {
        Ok(list) => Ok(oxvirt_xml::storage::format_sources(PoolType::Netfs, &list)),
        Err(_) => Err(Error::operation_failed(
            FROM,
            format!("no storage pools were found on host '{}'", host),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn showmount_lines() {
        let v = parse_showmount("h", "/tmp   *\n/A dir demo1.foo.bar,demo2.foo.bar\n").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].dir.as_deref(), Some("/A dir"));
        assert_eq!(
            oxvirt_xml::storage::format_sources(PoolType::Netfs, &v[..1]),
            "<sources>\n  <source>\n    <host name='h'/>\n    <dir path='/tmp'/>\n    <format type='nfs'/>\n  </source>\n</sources>\n"
        );
    }
}
