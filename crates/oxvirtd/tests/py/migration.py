"""Migration helpers for qemu_migration.rs, run with python3-libvirt.

  migration.py events URI
      prints READY once a lifecycle callback is registered, then one JSON
      line [name, event, detail] per lifecycle event, until stdin closes.
  migration.py nova SRC_URI DOMAIN DEST_URI DEST_LOCAL_URI
      migrates DOMAIN to DEST_URI (as the source daemon reaches it) as
      Nova does: migrateToURI3 with LIVE | PEER2PEER | PERSIST_DEST |
      UNDEFINE_SOURCE and Nova's params; then prints the state the
      destination (reached at DEST_LOCAL_URI) reports.
"""

import json
import sys
import threading

import libvirt


def events(uri):
    libvirt.virEventRegisterDefaultImpl()
    conn = libvirt.open(uri)

    def lifecycle(_conn, dom, event, detail, _opaque):
        print(json.dumps([dom.name(), event, detail]), flush=True)

    conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None)
    # The loop wakes up regularly to see whether stdin closed.
    libvirt.virEventAddTimeout(100, lambda _t, _o: None, None)
    stop = threading.Event()

    def watch():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    print("READY", flush=True)
    while not stop.is_set():
        libvirt.virEventRunDefaultImpl()
    conn.close()


def nova(src, name, dest, dest_local):
    conn = libvirt.open(src)
    dom = conn.lookupByName(name)
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE)
    flags = (
        libvirt.VIR_MIGRATE_LIVE
        | libvirt.VIR_MIGRATE_PEER2PEER
        | libvirt.VIR_MIGRATE_PERSIST_DEST
        | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    )
    params = {
        libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 0,
        libvirt.VIR_MIGRATE_PARAM_DEST_XML: xml,
        libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: xml,
    }
    dom.migrateToURI3(dest, params, flags)
    # The source no longer knows the domain.
    try:
        conn.lookupByName(name)
        print("still defined on the source")
        sys.exit(1)
    except libvirt.libvirtError as e:
        assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, e
    dconn = libvirt.open(dest_local)
    d = dconn.lookupByName(name)
    state, reason = d.state()
    print(json.dumps({"state": state, "reason": reason, "persistent": d.isPersistent()}))


if __name__ == "__main__":
    if sys.argv[1] == "events":
        events(sys.argv[2])
    elif sys.argv[1] == "nova":
        nova(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit("unknown mode " + sys.argv[1])
