import struct, os, sys
out = sys.argv[1]
def u32(v): return struct.pack(">I", v & 0xffffffff)
def i32(v): return struct.pack(">i", v)
def u64(v): return struct.pack(">Q", v)
def s(x):
    b = x.encode()
    return u32(len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)
def opt(x): return u32(0) if x is None else u32(1) + s(x)
uuid = bytes(range(16))
def dom(name, id_=-1): return s(name) + uuid + i32(id_)
def frame(proc, mtype, payload, status=0, prog=0x20008086, serial=1):
    body = u32(prog) + u32(1) + i32(proc) + i32(mtype) + u32(serial) + i32(status) + payload
    return u32(len(body) + 4) + body
def tp(field, kind, val):
    return s(field) + i32(kind) + val
xml = "<domain type='test'><name>g</name><memory>1024</memory><os><type>hvm</type></os></domain>"
err = i32(42) + i32(10) + opt("Domain not found: no domain with matching name 'x'") + i32(2) + u32(0) + opt("x") + opt(None) + opt(None) + i32(0) + i32(0) + u32(0)
frames = {
    "open-define-list": frame(1, 0, opt("test:///default") + u32(0)) + frame(11, 0, s(xml), serial=2) + frame(273, 0, i32(1) + u32(0), serial=3),
    "replies": frame(23, 1, dom("g", 3)) + frame(16, 1, struct.pack(">B", 0)[:0] + u32(1) + u64(1048576) + u64(524288) + u32(1) + u64(123456789)) + frame(23, 1, err, status=1),
    "typed-params": frame(219, 0, dom("g") + u32(3) + tp("cpu_shares", 4, u64(1024)) + tp("vcpu_quota", 3, u64(2**63)) + tp("name", 7, s("x")) + u32(0)),
    "event-and-hole": frame(318, 2, i32(1) + dom("g") + i32(5) + i32(1)) + frame(209, 6, u64(1 << 30) + u32(0)) + frame(1, 2, b"", prog=0x6b656570, serial=0),
}
os.makedirs(f"{out}/proto_frame", exist_ok=True)
os.makedirs(f"{out}/proto_args", exist_ok=True)
for k, v in frames.items():
    open(f"{out}/proto_frame/{k}", "wb").write(v)
# proto_args: two bytes pick the row (index << 1 | reply); the index is into
# the table's row order, so these seeds are plain bodies of common shapes.
args = {
    "str": s(xml),
    "dom-flags": dom("guest", 7) + u32(0),
    "dom-params": dom("g") + u32(2) + tp("weight", 2, u32(500)) + tp("d", 5, struct.pack(">d", 1.5)) + u32(0),
    "stats-records": u32(1) + dom("g", 1) + u32(1) + tp("state.state", 1, i32(1)),
    "list": u32(3) + s("a") + s("bb") + s("ccc") + u32(3),
}
for i, (k, v) in enumerate(args.items()):
    open(f"{out}/proto_args/{k}", "wb").write(struct.pack(">H", i * 37) + v)
