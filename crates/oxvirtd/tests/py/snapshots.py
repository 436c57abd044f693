"""Snapshots through python3-libvirt on a running guest of oxvirtd's
qemu:///system (run by qemu_snapshots.rs): create, list, current,
parent, revert, delete, as a management application calls them.
argv: URI DOMAIN. Prints one line per step; the test compares them."""
import sys
import libvirt

uri, name = sys.argv[1], sys.argv[2]
conn = libvirt.open(uri)
dom = conn.lookupByName(name)
s1 = dom.snapshotCreateXML("<domainsnapshot><name>py1</name></domainsnapshot>", 0)
s2 = dom.snapshotCreateXML("<domainsnapshot><name>py2</name><description>two</description></domainsnapshot>", 0)
print("names", sorted(s.getName() for s in dom.listAllSnapshots(0)))
print("num", dom.snapshotNum(0))
print("current", dom.snapshotCurrent(0).getName(), dom.hasCurrentSnapshot(0))
print("parent", s2.getParent(0).getName())
print("children", [c.getName() for c in s1.listAllChildren(0)], s1.numChildren(0))
print("is_current", s1.isCurrent(0), s2.isCurrent(0), s2.hasMetadata(0))
dom.revertToSnapshot(s1, libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED)
print("state", dom.state(0))
print("current", dom.snapshotCurrent(0).getName())
try:
    dom.snapshotLookupByName("nosuch", 0)
except libvirt.libvirtError as e:
    print("error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
s2.delete(0)
s1.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
print("left", dom.snapshotNum(0))
