"""Scrapes oxvirtd's /metrics with python3-prometheus-client's parsers
while a save of a 1 GiB guest runs (into a FIFO nobody reads, so the save
job is certainly running during the scrapes; it is aborted afterwards),
and checks that every guest has fresh figures; then a save into a file
shows the guest shut off. Prints a short transcript; exits non-zero on
the first failed check."""
import os, sys, threading, time, urllib.request

import libvirt
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

uri, url, saved, other, fifo, interval = sys.argv[1:7]
interval = float(interval)
guests = [saved, other]


def fail(msg):
    print("FAIL:", msg, flush=True)
    os._exit(1)


def scrape(openmetrics):
    """(seconds taken, {sample name: [(labels, value)]}, content type)"""
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"} if openmetrics else {}
    t0 = time.monotonic()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        body = r.read().decode()
        ctype = r.headers.get("Content-Type", "")
    took = time.monotonic() - t0
    out = {}
    for fam in (parse_om if openmetrics else parse_text)(body):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return took, out, ctype


def value(m, name, dom, **extra):
    for labels, v in m.get(name, []):
        if labels.get("domain") == dom and all(labels.get(k) == x for k, x in extra.items()):
            return v
    return None


def wait_for(pred, what, limit=20.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        took, m, _ = scrape(False)
        if pred(m):
            return m
        time.sleep(0.2)
    fail("timed out waiting for " + what)


conn = libvirt.open(uri)
dom = conn.lookupByName(saved)

m = wait_for(lambda m: all(value(m, "libvirt_domain_info_state", g) == 1 for g in guests),
             "both guests running in a scrape")
print("before the save: both guests running")

# The save writes into a FIFO opened for reading but not read: QEMU fills
# the pipe and waits, so the job runs until we drain it.
os.mkfifo(fifo)
rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
result = {}


def do_save():
    try:
        dom.save(fifo)
        result["ok"] = True
    except libvirt.libvirtError as e:
        result["err"] = str(e)


saver = threading.Thread(target=do_save, daemon=True)
saver.start()
m1 = wait_for(lambda m: value(m, "libvirt_domain_job_type", saved) == 2,
              "the save job in a scrape")
print("save job seen: libvirt_domain_job_type == 2 (unbounded)")
t1 = {g: value(m1, "oxvirt_domain_sample_timestamp_seconds", g) for g in guests}
time.sleep(2 * interval + 0.5)

for om in (False, True):
    took, m, ctype = scrape(om)
    fmt = "OpenMetrics" if om else "text 0.0.4"
    if took > 1.0:
        fail("%s scrape took %.3f s during the save" % (fmt, took))
    want_ct = "application/openmetrics-text" if om else "text/plain; version=0.0.4"
    if not ctype.startswith(want_ct):
        fail("%s scrape answered Content-Type %r" % (fmt, ctype))
    if saver.is_alive() is False:
        fail("the save ended before the scrapes")
    now = time.time()
    for g in guests:
        ts = value(m, "oxvirt_domain_sample_timestamp_seconds", g)
        if ts is None or ts <= t1[g] or now - ts > 2 * interval + 1:
            fail("%s: sample not fresh (%r, before %r, now %.1f)" % (g, ts, t1[g], now))
        if value(m, "oxvirt_domain_sample_complete", g) != 1:
            fail("%s: sample incomplete" % g)
        for name in ("libvirt_domain_info_state", "libvirt_domain_info_cpu_time_seconds_total",
                     "libvirt_domain_info_memory_usage_bytes",
                     "libvirt_domain_info_maximum_memory_bytes",
                     "libvirt_domain_info_virtual_cpus"):
            if value(m, name, g) is None:
                fail("%s: no %s" % (g, name))
        for name in ("libvirt_domain_block_stats_read_bytes_total",
                     "libvirt_domain_block_stats_write_requests_total"):
            if value(m, name, g, target_device="vda") is None:
                fail("%s: no %s for vda" % (g, name))
    if value(m, "libvirt_domain_info_memory_usage_bytes", saved) != 1024 ** 3:
        fail("saved guest memory %r" % value(m, "libvirt_domain_info_memory_usage_bytes", saved))
    if value(m, "libvirt_domain_job_type", saved) != 2:
        fail("the save job is gone from the %s scrape" % fmt)
    if value(m, "libvirt_domain_job_data_total_bytes", saved) is None:
        fail("no job progress figures")
    if value(m, "libvirt_domain_job_type", other) not in (None, 0):
        fail("a job on the guest that is not saved")
    daemon = [("oxvirtd_clients", lambda v: v >= 1), ("process_resident_memory_bytes", lambda v: v > 0),
              ("oxvirtd_workers_busy", lambda v: v >= 1)]
    for name, ok in daemon:
        v = m.get(name, [({}, None)])[0][1]
        if v is None or not ok(v):
            fail("daemon figure %s = %r" % (name, v))
    calls = {l["procedure"]: v for l, v in m.get("oxvirtd_calls_total", [])}
    if calls.get("CONNECT_OPEN", 0) < 1 or calls.get("DOMAIN_LOOKUP_BY_NAME", 0) < 1:
        fail("calls per procedure: %r" % calls)
    if not m.get("oxvirtd_call_duration_seconds_bucket"):
        fail("no call latency histogram")
    print("%s scrape during the save: %d ms, fresh figures for %s" %
          (fmt, round(took * 1000), ", ".join(guests)))

# The held save is aborted (the driver rewrites the image's header at the
# end, which a FIFO cannot take): the guest runs on and its job is gone.
# QEMU's write into the full pipe must return before it sees the cancel:
# the pipe is drained (and what comes discarded) until the save ends.
dom.abortJob()
os.set_blocking(rfd, False)
t0 = time.monotonic()
while saver.is_alive() and time.monotonic() - t0 < 30:
    try:
        os.read(rfd, 1 << 20)
    except BlockingIOError:
        time.sleep(0.01)
saver.join(1)
os.close(rfd)
if result.get("ok") or saver.is_alive():
    fail("the aborted save: %r" % result)
wait_for(lambda m: value(m, "libvirt_domain_info_state", saved) == 1
         and value(m, "libvirt_domain_job_type", saved) in (None, 0),
         "the saved guest running without a job after the abort")
print("save aborted: %s running, no job" % saved)

# A whole save into a file: the guest shows as shut off.
image = fifo + ".img"
dom.save(image)
os.unlink(image)
wait_for(lambda m: value(m, "libvirt_domain_info_state", saved) == 5
         and value(m, "libvirt_domain_job_type", saved) is None
         and value(m, "libvirt_domain_info_state", other) == 1,
         "the saved guest shut off, the other running")
print("after a save to a file: %s shut off, %s running" % (saved, other))
os._exit(0)
