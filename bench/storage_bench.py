#!/usr/bin/python3
"""Storage benchmark for one daemon (python3-libvirt, unchanged for any
daemon that speaks libvirt RPC).

    storage_bench.py URI DIR [N]

DIR is a directory on the file system to measure (the pools live below
it). N is the number of qcow2 volumes (default 1000). Prints one
"name value unit" line per figure; storage_vs_libvirtd.sh compares two
daemons' lines.
"""
import os
import sys
import time

import libvirt

GIB = 1 << 30
CHUNK = 256 * 1024


def pool_xml(name, path):
    return f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>"


def vol_xml(name, cap, fmt, alloc=None):
    a = f"<allocation>{alloc}</allocation>" if alloc is not None else ""
    return (f"<volume><name>{name}</name><capacity>{cap}</capacity>{a}"
            f"<target><format type='{fmt}'/></target></volume>")


def drop_caches():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        pass


def make_half_data(path, size):
    """A file of SIZE bytes, data in every other MiB (half of it data)."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(size >> 20):
            if i % 2 == 0:
                f.seek(i << 20)
                f.write(block)
        f.truncate(size)


def upload(conn, vol, path, sparse):
    st = conn.newStream(0)
    flags = libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM if sparse else 0
    vol.upload(st, 0, 0, flags)
    fd = os.open(path, os.O_RDONLY)
    try:
        if sparse:
            def in_data(stream, opaque):
                cur = os.lseek(fd, 0, os.SEEK_CUR)
                try:
                    data = os.lseek(fd, cur, os.SEEK_DATA)
                except OSError:
                    end = os.lseek(fd, 0, os.SEEK_END)
                    os.lseek(fd, cur, os.SEEK_SET)
                    return (0, end - cur)
                if data > cur:
                    os.lseek(fd, cur, os.SEEK_SET)
                    return (0, data - cur)
                hole = os.lseek(fd, cur, os.SEEK_HOLE)
                os.lseek(fd, cur, os.SEEK_SET)
                return (1, hole - cur)

            st.sparseSendAll(lambda s, n, o: os.read(fd, n), in_data,
                             lambda s, n, o: os.lseek(fd, n, os.SEEK_CUR) and 0, None)
        else:
            st.sendAll(lambda s, n, o: os.read(fd, n), None)
        st.finish()
    finally:
        os.close(fd)


def download(conn, vol, path, sparse):
    st = conn.newStream(0)
    flags = libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM if sparse else 0
    vol.download(st, 0, 0, flags)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        def hole(s, n, o):
            pos = os.lseek(fd, n, os.SEEK_CUR)
            os.ftruncate(fd, pos)
            return 0
        st.sparseRecvAll(lambda s, b, o: os.write(fd, b), hole, None)
        st.finish()
    finally:
        os.close(fd)


def timed(f):
    t0 = time.monotonic()
    f()
    return time.monotonic() - t0


def main():
    uri, base = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    conn = libvirt.open(uri)
    tag = f"storagebench{os.getpid()}"
    out = []

    # 1. Creating N qcow2 volumes, one call after another.
    d1 = os.path.join(base, "many")
    os.makedirs(d1, exist_ok=True)
    pool = conn.storagePoolCreateXML(pool_xml(tag + "-many", d1), 0)
    try:
        t = timed(lambda: [pool.createXML(vol_xml(f"v{i}.qcow2", GIB, "qcow2"), 0)
                           for i in range(n)])
        out.append(("create_qcow2_rate", n / t, "vol/s"))
        # 2. Refreshing the pool of N qcow2 volumes (warm cache, median of 5).
        ts = sorted(timed(lambda: pool.refresh(0)) for _ in range(5))
        out.append(("refresh_qcow2_pool", ts[2] * 1000, "ms"))
        for v in pool.listAllVolumes(0):
            v.delete(0)
    finally:
        pool.destroy()

    # 3-6. A 1 GiB volume, half data: clone, transfers, wipe.
    d2 = os.path.join(base, "big")
    os.makedirs(d2, exist_ok=True)
    src = os.path.join(base, "src.img")
    make_half_data(src, GIB)
    pool = conn.storagePoolCreateXML(pool_xml(tag + "-big", d2), 0)
    try:
        vol = pool.createXML(vol_xml("big.img", GIB, "raw", 0), 0)
        # Upload, sparse and not; download, sparse and not.
        for sparse in (False, True):
            drop_caches()
            t = timed(lambda: upload(conn, vol, src, sparse))
            out.append((f"upload_1g{'_sparse' if sparse else ''}", GIB / t / (1 << 20), "MiB/s"))
        for sparse in (False, True):
            dst = os.path.join(base, f"down{int(sparse)}.img")
            drop_caches()
            t = timed(lambda: download(conn, vol, dst, sparse))
            out.append((f"download_1g{'_sparse' if sparse else ''}", GIB / t / (1 << 20), "MiB/s"))
            os.unlink(dst)
        drop_caches()
        t = timed(lambda: pool.createXMLFrom(vol_xml("clone.img", GIB, "raw", 0), vol, 0))
        out.append(("clone_1g_half_data", t * 1000, "ms"))
        full = pool.createXML(vol_xml("full.img", GIB, "raw"), 0)
        drop_caches()
        t = timed(lambda: full.wipe(0))
        out.append(("wipe_1g_zero", t * 1000, "ms"))
        for v in pool.listAllVolumes(0):
            v.delete(0)
    finally:
        pool.destroy()
        os.unlink(src)
    for name, v, unit in out:
        print(f"{name} {v:.1f} {unit}")


if __name__ == "__main__":
    main()
