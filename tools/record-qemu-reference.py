#!/usr/bin/python3
"""Records what the reference libvirtd 9.0 (qemu:///system, QEMU 7.2 on
this host) makes of libvirt's own x86_64-latest QEMU test inputs: the
oracle of crates/oxvirt-qemu-driver/tests/qemuxml2xml.rs and argv.rs.

For every input of `qemuxml2argv.tsv` and `qemuxml2xml.tsv` whose test
name ends in `.x86_64-latest` (../shared/conformance/xml/manifests):

  NAME.xml       virDomainDefineXML + virDomainGetXMLDesc(INACTIVE), with
                 the domain's name and UUID put back to the input's
  NAME.err       the define error instead: "code<TAB>domain<TAB>message"
  NAME.args      virConnectDomainXMLToNative("qemu-argv") of the input as
                 is: the environment dropped, one argument per line
  NAME.args-err  its error, as above

Objects on the shared reference carry the prefix `fidelity-` and a random
UUID while they exist (a fraction of a second), so parallel users of the
daemon never collide with them. Needs python3-libvirt and the running
reference (../shared/tools/reference-libvirtd.sh).

    tools/record-qemu-reference.py [SHARED] [OUTDIR]
"""
import os
import re
import shlex
import sys
import uuid

import libvirt

shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), '..', '..', 'shared')
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    os.path.dirname(__file__), '..', 'crates', 'oxvirt-qemu-driver', 'tests',
    'reference', 'x86_64-latest')
base = os.path.join(shared, 'conformance', 'xml')

libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open('qemu:///system')


def inputs():
    found = set()
    for manifest, col in (('qemuxml2argv.tsv', 1), ('qemuxml2xml.tsv', 2)):
        with open(os.path.join(base, 'manifests', manifest)) as f:
            next(f)
            for line in f:
                row = line.rstrip('\n').split('\t')
                if row[0].endswith('.x86_64-latest'):
                    found.add(row[col])
    return sorted(found)


def err_line(e):
    return '%d\t%d\t%s\n' % (e.get_error_code(), e.get_error_domain(),
                             e.get_error_message())


def argv_lines(cmdline):
    words = shlex.split(cmdline)
    while words and re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', words[0]):
        words.pop(0)
    return ''.join(w + '\n' for w in words)


os.makedirs(out, exist_ok=True)
for old in os.listdir(out):
    os.unlink(os.path.join(out, old))
counts = {}
for rel in inputs():
    name = os.path.basename(rel)[:-len('.xml')]
    with open(os.path.join(base, rel[len('xml/'):])) as f:
        xml = f.read()
    m = re.search(r'<name>(.*?)</name>', xml)
    u = re.search(r'<uuid>(.*?)</uuid>', xml)
    tmp_name = 'fidelity-' + uuid.uuid4().hex[:12]
    tmp_uuid = str(uuid.uuid4())
    doc = xml
    if m:
        doc = doc.replace(m.group(0), '<name>%s</name>' % tmp_name, 1)
    if u:
        doc = doc.replace(u.group(0), '<uuid>%s</uuid>' % tmp_uuid, 1)
    try:
        dom = conn.defineXML(doc)
        try:
            got = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        finally:
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        if m:
            got = got.replace(tmp_name, m.group(1))
        if u:
            got = got.replace(tmp_uuid, u.group(1))
        path, text, d = name + '.xml', got, 'ok'
    except libvirt.libvirtError as e:
        path, text, d = name + '.err', err_line(e), 'err'
    with open(os.path.join(out, path), 'w') as f:
        f.write(text)
    try:
        path, text, a = name + '.args', argv_lines(
            conn.domainXMLToNative('qemu-argv', xml, 0)), 'ok'
    except libvirt.libvirtError as e:
        path, text, a = name + '.args-err', err_line(e), 'err'
    with open(os.path.join(out, path), 'w') as f:
        f.write(text)
    counts[(d, a)] = counts.get((d, a), 0) + 1
for (d, a), n in sorted(counts.items()):
    print('define %-3s argv %-3s %d' % (d, a, n))
