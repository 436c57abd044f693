// go-libvirt acceptance client: DigitalOcean's pure-Go libvirt client
// (Debian's golang-github-digitalocean-go-libvirt-dev) drives a libvirt
// daemon's test:///default through a unix socket.
//
// Usage: go-client SOCKET
//
// Prints one line per step. tests/go/acceptance.expected holds the lines
// the reference libvirtd 9.0 gives; go_client.rs compares oxvirtd's with
// them. Lines that legitimately differ between hosts are normalised here
// (see the comments at "hostname" and "info").
//
// Built in GOPATH mode (GO111MODULE=off, GOPATH=/usr/share/gocode), so it
// needs nothing but Debian's packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

const domXML = `<domain type='test'><name>%s</name><memory>65536</memory>
<vcpu>1</vcpu><os><type>hvm</type></os></domain>`

var out = os.Stdout

func say(format string, args ...interface{}) {
	fmt.Fprintf(out, format+"\n", args...)
}

// fail prints the step's error and stops: later steps would only repeat it.
func fail(step string, err error) {
	say("%s FAILED: %s", step, describe(err))
	os.Exit(1)
}

// describe is libvirt's error as "CODE MESSAGE", or the Go error.
func describe(err error) string {
	var e libvirt.Error
	if errors.As(err, &e) {
		return fmt.Sprintf("%d %s", e.Code, e.Message)
	}
	return "go: " + err.Error()
}

func uuidString(u libvirt.UUID) string {
	b := u[:]
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-client SOCKET")
		os.Exit(2)
	}
	dialer := dialers.NewLocal(dialers.WithSocket(os.Args[1]), dialers.WithLocalTimeout(10*time.Second))
	l := libvirt.NewWithDialer(dialer)
	// AUTH_LIST, then CONNECT_OPEN (go-libvirt encodes the optional name's
	// presence word as the bytes 01 00 00 00).
	if err := l.ConnectToURI(libvirt.ConnectURI("test:///default")); err != nil {
		fail("open", err)
	}
	say("open ok")

	typ, err := l.ConnectGetType()
	if err != nil {
		fail("type", err)
	}
	say("type %s", typ)
	uri, err := l.ConnectGetUri()
	if err != nil {
		fail("uri", err)
	}
	say("uri %s", uri)
	libVer, err := l.ConnectGetLibVersion()
	if err != nil {
		fail("libversion", err)
	}
	say("libversion %d", libVer)
	hvVer, err := l.ConnectGetVersion()
	if err != nil {
		fail("version", err)
	}
	say("version %d", hvVer)
	// The daemon's host name differs between machines: compare it with
	// ours instead of printing it.
	host, err := l.ConnectGetHostname()
	if err != nil {
		fail("hostname", err)
	}
	me, _ := os.Hostname()
	say("hostname matches %v", host == me && host != "")

	model, memory, cpus, mhz, nodes, sockets, cores, threads, err := l.NodeGetInfo()
	if err != nil {
		fail("nodeinfo", err)
	}
	var mb []byte
	for _, c := range model {
		if c == 0 {
			break
		}
		mb = append(mb, byte(c))
	}
	say("nodeinfo %s %d %d %d %d %d %d %d", mb, memory, cpus, mhz, nodes, sockets, cores, threads)

	caps, err := l.ConnectGetCapabilities()
	if err != nil {
		fail("capabilities", err)
	}
	say("capabilities host %v guest-hvm %v",
		strings.Contains(caps, "<host>"), strings.Contains(caps, "<os_type>hvm</os_type>"))

	doms, n, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		fail("domains", err)
	}
	var names []string
	for _, d := range doms {
		names = append(names, d.Name)
	}
	sort.Strings(names)
	say("domains %d %v", n, names)
	active, _, err := l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive)
	if err != nil {
		fail("domains active", err)
	}
	say("domains active %d", len(active))

	t, err := l.DomainLookupByName("test")
	if err != nil {
		fail("lookup", err)
	}
	say("lookup %s id %d uuid %s", t.Name, t.ID, uuidString(t.UUID))
	byID, err := l.DomainLookupByID(t.ID)
	if err != nil {
		fail("byid", err)
	}
	say("byid %s", byID.Name)
	byUUID, err := l.DomainLookupByUUID(t.UUID)
	if err != nil {
		fail("byuuid", err)
	}
	say("byuuid %s", byUUID.Name)
	st, reason, err := l.DomainGetState(t, 0)
	if err != nil {
		fail("state", err)
	}
	say("state %d %d", st, reason)
	// The test driver reports the wall clock as the CPU time: only its
	// sign is stable.
	ist, maxMem, mem, vcpus, cpuTime, err := l.DomainGetInfo(t)
	if err != nil {
		fail("info", err)
	}
	say("info %d %d %d %d cputime>0 %v", ist, maxMem, mem, vcpus, cpuTime > 0)
	x, err := l.DomainGetXMLDesc(t, 0)
	if err != nil {
		fail("xml", err)
	}
	say("xml has name %v", strings.Contains(x, "<name>test</name>"))
	ac, err := l.DomainIsActive(t)
	if err != nil {
		fail("isactive", err)
	}
	pe, err := l.DomainIsPersistent(t)
	if err != nil {
		fail("ispersistent", err)
	}
	say("active %d persistent %d", ac, pe)

	pools, _, err := l.ConnectListAllStoragePools(1, 0)
	if err != nil {
		fail("pools", err)
	}
	names = nil
	for _, p := range pools {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	say("pools %v", names)
	nets, _, err := l.ConnectListAllNetworks(1, 0)
	if err != nil {
		fail("networks", err)
	}
	names = nil
	for _, n := range nets {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	say("networks %v", names)

	// Lifecycle events: CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, then
	// DOMAIN_EVENT_CALLBACK_LIFECYCLE messages routed by callback id.
	ctx, cancel := context.WithCancel(context.Background())
	events, err := l.LifecycleEvents(ctx)
	if err != nil {
		fail("subscribe", err)
	}
	say("subscribed")
	// One event per step, printed as libvirt's numbers
	// (virDomainEventType, then its detail enum).
	event := func() {
		select {
		case e, ok := <-events:
			if !ok {
				say("event stream closed")
				return
			}
			say("event %s %d %d", e.Dom.Name, e.Event, e.Detail)
		case <-time.After(10 * time.Second):
			say("event timeout")
		}
	}

	d, err := l.DomainDefineXML(fmt.Sprintf(domXML, "go1"))
	if err != nil {
		fail("define", err)
	}
	say("defined %s id %d", d.Name, d.ID)
	event()
	state := func(step string) {
		st, reason, err := l.DomainGetState(d, 0)
		if err != nil {
			fail(step, err)
		}
		say("%s state %d %d", step, st, reason)
	}
	if err := l.DomainCreate(d); err != nil {
		fail("create", err)
	}
	event()
	d, err = l.DomainLookupByName("go1")
	if err != nil {
		fail("relookup", err)
	}
	say("started id>0 %v", d.ID > 0)
	state("started")
	if err := l.DomainSuspend(d); err != nil {
		fail("suspend", err)
	}
	event()
	state("suspended")
	if err := l.DomainResume(d); err != nil {
		fail("resume", err)
	}
	event()
	state("resumed")
	// A call the state machine refuses: resuming a running domain.
	if err := l.DomainResume(d); err != nil {
		say("resume again error %s", describe(err))
	} else {
		say("resume again succeeded")
	}
	if err := l.DomainDestroy(d); err != nil {
		fail("destroy", err)
	}
	event()
	state("destroyed")
	if err := l.DomainUndefine(d); err != nil {
		fail("undefine", err)
	}
	event()
	say("undefined")

	// A transient domain: created and destroyed, no define/undefine.
	d2, err := l.DomainCreateXML(fmt.Sprintf(domXML, "go2"), 0)
	if err != nil {
		fail("createxml", err)
	}
	say("created %s id>0 %v", d2.Name, d2.ID > 0)
	event()
	if err := l.DomainDestroy(d2); err != nil {
		fail("destroy2", err)
	}
	event()

	// Wrong calls: a domain that does not exist, by name and after undefine.
	_, err = l.DomainLookupByName("nosuch")
	say("missing error %s notfound %v", describe(err), libvirt.IsNotFound(err))
	_, err = l.DomainLookupByName("go1")
	say("gone error %s", describe(err))

	cancel()
	for range events {
	}
	say("unsubscribed")
	if err := l.Disconnect(); err != nil {
		fail("disconnect", err)
	}
	say("disconnected")
}
