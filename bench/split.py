#!/usr/bin/python3
"""bench/split.py URI DAEMON_PID N: where the time of one call goes.
Defines N domains, then for listAllDomains (with N+1 domains) and for
lookupByName + info prints the wall time per operation, the daemon's CPU
time per operation (/proc/PID/stat) and this client's own CPU time per
operation (os.times); undefines the N domains at the end."""
import os, sys, time, libvirt

uri, pid, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(uri)
XML = ("<domain type='test'><name>split-{:05d}</name><memory unit='MiB'>64</memory>"
       "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>")
for i in range(n):
    c.defineXML(XML.format(i))
hz = os.sysconf("SC_CLK_TCK")

def daemon_cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / hz

def own_cpu():
    t = os.times()
    return t.user + t.system

def split(label, fn, count):
    fn()
    d0, c0, t0 = daemon_cpu(), own_cpu(), time.perf_counter()
    for _ in range(count):
        fn()
    dt = time.perf_counter() - t0
    dd, dc = daemon_cpu() - d0, own_cpu() - c0
    print(f"{label} {dt / count * 1e6:.1f} {dd / count * 1e6:.1f} {dc / count * 1e6:.1f}")

split("listAllDomains", lambda: c.listAllDomains(0), 200)
split("lookup+info", lambda: c.lookupByName("split-00000").info(), 3000)
for d in c.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE):
    if d.name().startswith("split-"):
        d.undefine()
c.close()
