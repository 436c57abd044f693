//! oxvirtd: serves libvirt's RPC protocol to virsh, libvirt-python and
//! every other libvirt client.

mod config;

fn main() {}
