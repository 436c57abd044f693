"""Clients of the kill -9 under load test (qemu_kill9_load.rs).

N threads, each with its own connection and two domains of its own, run
random lifecycle operations (define, start, suspend, resume, save,
restore, managedsave, start from the managed save, destroy, undefine)
until the deadline, while the test SIGKILLs and restarts oxvirtd.

Each thread keeps a model of its domains built only from what the daemon
confirmed: an operation that returned success updates it; one cut off by
the daemon's death leaves that domain uncertain until the thread has
reconnected and read the truth. After every reconnection, and at the end,
every certain domain must be exactly as modelled (defined or not, state,
managed save, the definition's description), and no domain may be left
paused for a save or starting up. Violations are printed in the JSON
summary on stdout; the test fails on any.

usage: kill9_load.py URI WORKDIR PREFIX KIND EMULATOR CLIENTS SECONDS SEED
"""

import json
import os
import random
import sys
import threading
import time

import libvirt

URI, WORKDIR, PREFIX, KIND, EMULATOR = sys.argv[1:6]
CLIENTS, SECONDS, SEED = int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])

libvirt.registerErrorHandler(lambda *a: None, None)

OFF, RUNNING, PAUSED = "off", "running", "paused"
STATE_OF = {
    libvirt.VIR_DOMAIN_SHUTOFF: OFF,
    libvirt.VIR_DOMAIN_RUNNING: RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PAUSED,
}

lock = threading.Lock()
violations = []
totals = {"ok": 0, "cut": 0, "reconnects": 0}
ops_done = {}


def violation(msg):
    with lock:
        violations.append(msg)


def xml(name, desc):
    return (
        "<domain type='%s'><name>%s</name><description>%s</description>"
        "<memory unit='MiB'>32</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os>"
        "<devices><emulator>%s</emulator></devices></domain>"
        % (KIND, name, desc, EMULATOR)
    )


def complete_image(path):
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"LibvirtQemudSave"
    except OSError:
        return False


class Dom:
    def __init__(self, name):
        self.name = name
        self.defined = False
        self.state = OFF
        self.managed = False
        self.managed_paused = False
        self.saved = None  # (path, paused) of a complete plain save
        self.desc = None
        self.gen = 0
        self.certain = True

    def expect(self):
        return (self.defined, self.state, self.managed, self.desc)


def connect(deadline=120):
    t0 = time.time()
    while True:
        try:
            return libvirt.open(URI)
        except libvirt.libvirtError:
            if time.time() - t0 > deadline:
                raise
            time.sleep(0.05)


def alive(conn):
    try:
        return conn.isAlive() == 1
    except libvirt.libvirtError:
        return False


def observe(conn, d):
    """What the daemon says about domain d: (defined, state, managed, desc)."""
    try:
        dom = conn.lookupByName(d.name)
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return (False, OFF, False, None), None
        raise
    st, reason = dom.state()
    if st == libvirt.VIR_DOMAIN_PAUSED and reason == libvirt.VIR_DOMAIN_PAUSED_STARTING_UP:
        violation("%s left paused (starting up)" % d.name)
    if not dom.isPersistent():
        violation("%s became transient" % d.name)
    x = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    desc = None
    if "<description>" in x:
        desc = x.split("<description>")[1].split("</description>")[0]
    managed = dom.hasManagedSaveImage() == 1
    return (True, STATE_OF.get(st, "other:%d" % st), managed, desc), (st, reason)


def resync(conn, d):
    """Reads the truth about d after an operation was cut off."""
    old_desc = d.desc
    (d.defined, d.state, d.managed, d.desc), _ = observe(conn, d)
    # An image of an earlier definition (another UUID) cannot be restored
    # over this one.
    if d.saved and (not complete_image(d.saved[0]) or d.desc != old_desc):
        d.saved = None
    if d.managed:
        # Whether the image holds a paused guest is not known: learn it
        # from the next start.
        d.managed_paused = None
    d.certain = True


def verify(conn, doms, when):
    for d in doms:
        if not d.certain:
            continue
        got, raw = observe(conn, d)
        if got != d.expect():
            violation("%s: %s expected %s, daemon says %s (state %s)"
                      % (when, d.name, d.expect(), got, raw))
            d.defined, d.state, d.managed, d.desc = got


def choices(d):
    if not d.defined:
        return ["define"]
    if d.state == OFF:
        c = ["start", "start", "undefine"]
        if d.saved and not d.managed:
            c.append("restore")
        return c
    c = ["save", "managedsave", "destroy"]
    c.append("suspend" if d.state == RUNNING else "resume")
    return c


def run_op(conn, d, op, rnd):
    """Runs op; returns the expected model after success."""
    if op == "define":
        d.gen += 1
        desc = "%s gen %d" % (d.name, d.gen)
        conn.defineXML(xml(d.name, desc))
        d.defined, d.state, d.managed, d.desc = True, OFF, False, desc
        return
    dom = conn.lookupByName(d.name)
    if op == "start":
        was_managed = d.managed
        dom.create()
        if was_managed and d.managed_paused is None:
            d.state = STATE_OF.get(dom.state()[0], OFF)
        else:
            d.state = PAUSED if (was_managed and d.managed_paused) else RUNNING
        d.managed = False
    elif op == "undefine":
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        # The next definition gets another UUID: the image is of no use.
        d.defined, d.managed, d.desc, d.saved = False, False, None, None
    elif op == "suspend":
        dom.suspend()
        d.state = PAUSED
    elif op == "resume":
        dom.resume()
        d.state = RUNNING
    elif op == "destroy":
        dom.destroy()
        d.state = OFF
    elif op == "save":
        path = os.path.join(WORKDIR, d.name + ".save")
        paused = d.state == PAUSED
        dom.save(path)
        d.state, d.saved = OFF, (path, paused)
    elif op == "managedsave":
        paused = d.state == PAUSED
        dom.managedSave()
        d.state, d.managed, d.managed_paused = OFF, True, paused
    elif op == "restore":
        path, paused = d.saved
        conn.restore(path)
        d.state = PAUSED if paused else RUNNING


def settle(conn, doms, when, reconnect):
    """Reads the truth about the uncertain domains and checks the certain
    ones, reconnecting (first, with `reconnect`) whenever the daemon is
    gone; returns the live connection."""
    while True:
        if reconnect:
            try:
                conn.close()
            except libvirt.libvirtError:
                pass
            conn = connect()
            with lock:
                totals["reconnects"] += 1
        try:
            for x in doms:
                if not x.certain:
                    resync(conn, x)
            verify(conn, doms, when)
            return conn
        except libvirt.libvirtError:
            if alive(conn):
                raise
            reconnect = True


def client(ci, end):
    rnd = random.Random(SEED * 1000 + ci)
    doms = [Dom("%sc%dd%d" % (PREFIX, ci, j)) for j in range(2)]
    conn = connect()
    done = 0
    while time.time() < end:
        d = rnd.choice(doms)
        op = rnd.choice(choices(d))
        try:
            run_op(conn, d, op, rnd)
            done += 1
            with lock:
                totals["ok"] += 1
            # What the call returned is what the daemon now says.
            verify(conn, [d], "after %s" % op)
        except libvirt.libvirtError as e:
            if alive(conn):
                violation("%s %s failed: %s" % (d.name, op, e))
                resync(conn, d)
                continue
            d.certain = False
            with lock:
                totals["cut"] += 1
            conn = settle(conn, doms, "after a restart", reconnect=True)
    # The end: everything the daemon confirmed is still there.
    conn = settle(conn, doms, "at the end", reconnect=False)
    with lock:
        ops_done[ci] = done
        for x in doms:
            final[x.name] = {
                "defined": x.defined,
                "state": x.state,
                "managed": x.managed,
                "saved": x.saved[0] if x.saved else None,
            }
    conn.close()


final = {}
end = time.time() + SECONDS
threads = [threading.Thread(target=client, args=(i, end)) for i in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({
    "ops_ok": totals["ok"],
    "ops_cut": totals["cut"],
    "reconnects": totals["reconnects"],
    "clients_finished": len(ops_done),
    "violations": violations,
    "domains": final,
}))
