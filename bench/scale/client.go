// The go-libvirt client of bench/scale.sh: DigitalOcean's pure-Go libvirt
// client (Debian's golang-github-digitalocean-go-libvirt-dev) drives a
// libvirt daemon (libvirtd or oxvirtd) over its unix socket. Each mode
// prints one line of "key=value" figures for the script to compare.
//
//	client tenk SOCKET URI N
//	    define N test-driver domains one call after another, list them
//	    all (listAllDomains, best of 5), undefine them all; seconds each.
//	client define SOCKET URI N PREFIX TYPE EMULATOR
//	    define N persistent domains of TYPE (qemu/kvm) for the start
//	    benchmark; 4 connections in parallel.
//	client undefine SOCKET URI PREFIX
//	    undefine every domain whose name starts with PREFIX.
//	client start SOCKET URI N T0
//	    poll the socket from T0 (Unix nanoseconds: when the daemon was
//	    executed) until a call is answered and until listAllDomains
//	    returns at least N domains; seconds since T0 for each.
//	client clients SOCKET URI CLIENTS DEPTH SECONDS
//	    CLIENTS connections, each with DEPTH calls in flight (DEPTH
//	    goroutines sharing the connection: go-libvirt pipelines them by
//	    serial), each call a virDomainGetInfo or virConnectNumOfDomains,
//	    for SECONDS; aggregate calls per second, the slowest call any
//	    client saw, and the fewest calls a client completed.
//
// Built in GOPATH mode (GO111MODULE=off, GOPATH=/usr/share/gocode).
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

func die(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}

func dial(socket, uri string, timeout time.Duration) (*libvirt.Libvirt, error) {
	d := dialers.NewLocal(dialers.WithSocket(socket), dialers.WithLocalTimeout(timeout))
	l := libvirt.NewWithDialer(d)
	if err := l.ConnectToURI(libvirt.ConnectURI(uri)); err != nil {
		return nil, err
	}
	return l, nil
}

func mustDial(socket, uri string) *libvirt.Libvirt {
	l, err := dial(socket, uri, 60*time.Second)
	if err != nil {
		die("connect", err)
	}
	return l
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		die("number", err)
	}
	return n
}

const testXML = `<domain type='test'><name>%s</name><memory>65536</memory>` +
	`<vcpu>1</vcpu><os><type>hvm</type></os></domain>`

const qemuXML = `<domain type='%s'><name>%s</name><memory unit='MiB'>64</memory>` +
	`<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>` +
	`<devices><emulator>%s</emulator></devices></domain>`

func tenk(socket, uri string, n int) {
	l := mustDial(socket, uri)
	defer l.Disconnect()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("scale-%05d", i)
	}
	t0 := time.Now()
	doms := make([]libvirt.Domain, n)
	for i, name := range names {
		d, err := l.DomainDefineXML(fmt.Sprintf(testXML, name))
		if err != nil {
			die("define "+name, err)
		}
		doms[i] = d
	}
	define := time.Since(t0).Seconds()
	list := 1e9
	count := 0
	for r := 0; r < 5; r++ {
		t := time.Now()
		all, _, err := l.ConnectListAllDomains(1, 0)
		if err != nil {
			die("list", err)
		}
		if s := time.Since(t).Seconds(); s < list {
			list = s
		}
		count = len(all)
	}
	t0 = time.Now()
	for _, d := range doms {
		if err := l.DomainUndefine(d); err != nil {
			die("undefine "+d.Name, err)
		}
	}
	undefine := time.Since(t0).Seconds()
	fmt.Printf("define=%.4f list=%.5f undefine=%.4f listed=%d\n", define, list, undefine, count)
}

func define(socket, uri string, n int, prefix, typ, emulator string) {
	const workers = 4
	var wg sync.WaitGroup
	var next int64 = -1
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := mustDial(socket, uri)
			defer l.Disconnect()
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= n {
					return
				}
				name := fmt.Sprintf("%s%05d", prefix, i)
				if _, err := l.DomainDefineXML(fmt.Sprintf(qemuXML, typ, name, emulator)); err != nil {
					die("define "+name, err)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("defined=%d seconds=%.2f\n", n, time.Since(t0).Seconds())
}

func undefine(socket, uri, prefix string) {
	l := mustDial(socket, uri)
	defer l.Disconnect()
	all, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		die("list", err)
	}
	n := 0
	for _, d := range all {
		if strings.HasPrefix(d.Name, prefix) {
			if err := l.DomainUndefine(d); err != nil {
				die("undefine "+d.Name, err)
			}
			n++
		}
	}
	fmt.Printf("undefined=%d\n", n)
}

func start(socket, uri string, n int, t0ns int64) {
	t0 := time.Unix(0, t0ns)
	deadline := time.Now().Add(10 * time.Minute)
	var l *libvirt.Libvirt
	for {
		var err error
		l, err = dial(socket, uri, 5*time.Second)
		if err == nil {
			if _, err = l.ConnectGetVersion(); err == nil {
				break
			}
			l.Disconnect()
		}
		if time.Now().After(deadline) {
			die("daemon never answered", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	first := time.Since(t0).Seconds()
	defer l.Disconnect()
	for {
		all, _, err := l.ConnectListAllDomains(1, 0)
		if err != nil {
			die("list", err)
		}
		if len(all) >= n {
			break
		}
		if time.Now().After(deadline) {
			die("list", fmt.Errorf("%d of %d domains", len(all), n))
		}
		time.Sleep(2 * time.Millisecond)
	}
	fmt.Printf("first_answer=%.4f all_listed=%.4f\n", first, time.Since(t0).Seconds())
}

func clients(socket, uri string, nclients, depth int, seconds float64) {
	conns := make([]*libvirt.Libvirt, nclients)
	var wg sync.WaitGroup
	var failed int64
	// Connect in batches, so the connection storm is not what is measured.
	for i := range conns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			l, err := dial(socket, uri, 120*time.Second)
			if err != nil {
				atomic.AddInt64(&failed, 1)
				fmt.Fprintf(os.Stderr, "client %d: %v\n", i, err)
				return
			}
			conns[i] = l
		}(i)
		if i%50 == 49 {
			wg.Wait()
		}
	}
	wg.Wait()
	if failed > 0 {
		die("connect", fmt.Errorf("%d of %d clients could not connect", failed, nclients))
	}
	dom, err := conns[0].DomainLookupByName("test")
	if err != nil {
		die("lookup test", err)
	}
	counts := make([]int64, nclients)
	worst := make([]time.Duration, nclients*depth)
	var errs int64
	stop := make(chan struct{})
	start := make(chan struct{})
	for c := range conns {
		for k := 0; k < depth; k++ {
			wg.Add(1)
			go func(c, k int) {
				defer wg.Done()
				l := conns[c]
				<-start
				var max time.Duration
				for i := 0; ; i++ {
					select {
					case <-stop:
						worst[c*depth+k] = max
						return
					default:
					}
					t := time.Now()
					var err error
					if i%2 == 0 {
						_, _, _, _, _, err = l.DomainGetInfo(dom)
					} else {
						_, err = l.ConnectNumOfDomains()
					}
					if d := time.Since(t); d > max {
						max = d
					}
					if err != nil {
						atomic.AddInt64(&errs, 1)
					} else {
						atomic.AddInt64(&counts[c], 1)
					}
				}
			}(c, k)
		}
	}
	t0 := time.Now()
	close(start)
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	close(stop)
	wg.Wait()
	elapsed := time.Since(t0).Seconds()
	var total int64
	sorted := make([]int64, len(counts))
	for i, n := range counts {
		total += n
		sorted[i] = n
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	var maxLat time.Duration
	for _, d := range worst {
		if d > maxLat {
			maxLat = d
		}
	}
	for _, l := range conns {
		l.Disconnect()
	}
	fmt.Printf("calls_per_s=%.0f worst_latency=%.4f min_client_calls=%d median_client_calls=%d errors=%d\n",
		float64(total)/elapsed, maxLat.Seconds(), sorted[0], sorted[len(sorted)/2], errs)
}

func main() {
	a := os.Args
	if len(a) < 4 {
		fmt.Fprintln(os.Stderr, "usage: client MODE SOCKET URI ...")
		os.Exit(2)
	}
	switch a[1] {
	case "tenk":
		tenk(a[2], a[3], atoi(a[4]))
	case "define":
		define(a[2], a[3], atoi(a[4]), a[5], a[6], a[7])
	case "undefine":
		undefine(a[2], a[3], a[4])
	case "start":
		t0, err := strconv.ParseInt(a[5], 10, 64)
		if err != nil {
			die("T0", err)
		}
		start(a[2], a[3], atoi(a[4]), t0)
	case "clients":
		secs, err := strconv.ParseFloat(a[6], 64)
		if err != nil {
			die("SECONDS", err)
		}
		clients(a[2], a[3], atoi(a[4]), atoi(a[5]), secs)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", a[1])
		os.Exit(2)
	}
}
