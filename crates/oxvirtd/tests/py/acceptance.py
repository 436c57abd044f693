"""python3-libvirt against a libvirt daemon: issue 3's acceptance list.

Usage: acceptance.py URI
Prints one line per check; the Rust test compares them with the lines
the reference libvirtd gives (tests/py/acceptance.expected). Ends by
waiting for the daemon to stop (the caller sends SIGTERM once it prints
'waiting for close') and reporting the close callback.
"""
import sys
import threading
import time

import libvirt

URI = sys.argv[1]
XML = """<domain type='test'><name>{name}</name><memory>65536</memory>
<vcpu>1</vcpu><os><type>hvm</type></os></domain>"""

libvirt.virEventRegisterDefaultImpl()
stop = False


def loop():
    while not stop:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=loop, daemon=True).start()

c = libvirt.open(URI)
events = []
cond = threading.Condition()


def lifecycle(conn, dom, event, detail, opaque):
    with cond:
        events.append((opaque, dom.name(), event, detail))
        cond.notify_all()


def wait_events(n):
    deadline = time.time() + 30
    with cond:
        while len(events) < n and time.time() < deadline:
            cond.wait(0.2)
        got = list(events)
        events.clear()
    return got


closed = threading.Event()
reasons = []


def on_close(conn, reason, opaque):
    reasons.append(reason)
    closed.set()


c.registerCloseCallback(on_close, None)
all_id = c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, "all")
print("type", c.getType())
print("domains", sorted(d.name() for d in c.listAllDomains(0)))
t = c.lookupByName("test")
print("byid", c.lookupByID(t.ID()).name())
print("byuuid", c.lookupByUUIDString(t.UUIDString()).name())
info = t.info()
print("info", info[0], info[1], info[3])
print("state", t.state())
print("xml", "<name>test</name>" in t.XMLDesc(0))

d = c.defineXML(XML.format(name="py1"))
one_id = c.domainEventRegisterAny(d, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, "py1")
print("defined", d.name(), d.isActive(), d.isPersistent())
d.create()
print("started", d.isActive(), d.state())
d.suspend()
print("suspended", d.state())
d.resume()
print("resumed", d.state())
d.destroy()
print("destroyed", d.state())
d.undefine()
print("undefined")
# define(all), start, suspend, resume, destroy, undefine: all + py1 each
for e in sorted(wait_events(11)):
    print("event", *e)

tr = c.createXML(XML.format(name="py2"), 0)
print("created", tr.name(), tr.isActive(), tr.isPersistent())
tr.destroy()
for e in sorted(wait_events(2)):
    print("event", *e)
c.domainEventDeregisterAny(one_id)
c.domainEventDeregisterAny(all_id)

print("pools", sorted(p.name() for p in c.listAllStoragePools(0)))
print("networks", sorted(n.name() for n in c.listAllNetworks(0)))
try:
    c.lookupByName("py1")
except libvirt.libvirtError as e:
    print("gone", e.get_error_code(), e.get_error_domain())

print("waiting for close", flush=True)
closed.wait(60)
print("closed", reasons)
stop = True
