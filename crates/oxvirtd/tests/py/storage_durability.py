#!/usr/bin/python3
"""Durability load for storage_durability.rs: CLIENTS threads, each with
its own connection, run OPS operations each: volume creations (qcow2 and
fully allocated raw) in the pool POOL, pool definitions, and secret
definitions with a value. Every success is printed as it returns:

    OK vol NAME FORMAT CAPACITY
    OK pool NAME PATH
    OK secret UUID VALUE

Failures (the daemon killed mid-run) are printed as FAIL lines.

    storage_durability.py URI POOL DIR CLIENTS OPS
"""
import sys
import threading

import libvirt

uri, pool_name, base, clients, ops = sys.argv[1:6]
clients, ops = int(clients), int(ops)
lock = threading.Lock()
libvirt.registerErrorHandler(lambda *a: None, None)


def say(line):
    with lock:
        print(line, flush=True)


def client(c):
    try:
        conn = libvirt.open(uri)
        pool = conn.storagePoolLookupByName(pool_name)
    except libvirt.libvirtError as e:
        say(f"FAIL open {c} {e}")
        return
    for i in range(ops):
        kind = (c + i) % 4
        tag = f"d{c:02d}x{i:02d}"
        try:
            if kind == 0:
                cap = 1 << 30
                pool.createXML(
                    f"<volume><name>{tag}.qcow2</name><capacity>{cap}</capacity>"
                    f"<target><format type='qcow2'/></target></volume>", 0)
                say(f"OK vol {tag}.qcow2 qcow2 {cap}")
            elif kind == 1:
                cap = 8 << 20
                pool.createXML(
                    f"<volume><name>{tag}.raw</name><capacity>{cap}</capacity>"
                    f"<target><format type='raw'/></target></volume>", 0)
                say(f"OK vol {tag}.raw raw {cap}")
            elif kind == 2:
                path = f"{base}/pools/{tag}"
                conn.storagePoolDefineXML(
                    f"<pool type='dir'><name>durable-{tag}</name>"
                    f"<target><path>{path}</path></target></pool>", 0)
                say(f"OK pool durable-{tag} {path}")
            else:
                uuid = f"d0ab1e00-0000-4000-8000-0000000{c:02d}{i:03d}"
                s = conn.secretDefineXML(
                    f"<secret ephemeral='no' private='no'><uuid>{uuid}</uuid>"
                    f"<usage type='ceph'><name>durable-{tag}</name></usage></secret>", 0)
                s.setValue(f"value-{tag}".encode(), 0)
                say(f"OK secret {uuid} value-{tag}")
        except libvirt.libvirtError as e:
            say(f"FAIL {tag} {e.get_error_message()}")
            return


threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
say("DONE")
