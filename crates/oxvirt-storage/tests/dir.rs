//! Directory pools and file volumes on this host's file system: the pool
//! lifecycle with libvirt's states, errors and events, persistence across
//! a driver restart, and every volume operation on real files.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;

use common::*;
use oxvirt_core::types::flags::{vol_create, vol_resize};
use oxvirt_core::types::{pool_state, wipe_alg};
use oxvirt_core::SecretDriver as _;
use oxvirt_core::StreamChunk;

fn dir_pool(name: &str, path: &str) -> String {
    format!("<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>")
}

fn vol_xml(name: &str, format: &str, cap: u64, alloc: Option<u64>) -> String {
    let a = alloc
        .map(|a| format!("<allocation>{a}</allocation>"))
        .unwrap_or_default();
    format!(
        "<volume><name>{name}</name><capacity>{cap}</capacity>{a}<target><format type='{format}'/></target></volume>"
    )
}

#[test]
fn persistent_pool_lifecycle_and_restart() {
    let t = TempDir::new("lifecycle");
    let target = t.path("pool");
    let d = open(&t.0);
    let ev = record(&d);
    let p = d.pool_define_xml(&dir_pool("p1", &target), 0).unwrap();
    assert!(!d.pool_is_active(&p).unwrap());
    assert!(d.pool_is_persistent(&p).unwrap());
    // Start before build: the directory is missing.
    let e = d.pool_create(&p, 0).unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "cannot open directory '{}': No such file or directory",
            target
        )
    );
    d.pool_build(&p, 0).unwrap();
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o711);
    d.pool_create(&p, 0).unwrap();
    let info = d.pool_get_info(&p).unwrap();
    assert_eq!(info.state, pool_state::RUNNING);
    assert!(info.capacity > 0 && info.available > 0);
    assert_eq!(info.allocation, info.capacity - info.available);
    let e = d.pool_create(&p, 0).unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'p1' is already active"
    );
    let e = d.pool_undefine(&p).unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'p1' is still active"
    );
    d.pool_set_autostart(&p, true).unwrap();
    assert!(d.pool_get_autostart(&p).unwrap());
    let xml = d.pool_get_xml_desc(&p, 0).unwrap();
    assert!(xml.contains("<mode>0711</mode>"), "{}", xml);
    d.vol_create_xml(&p, &vol_xml("a.raw", "raw", 1 << 20, None), 0)
        .unwrap();
    drop(d);

    // A new daemon finds the pool running with its volume.
    let d = open(&t.0);
    let p = d.lookup_pool_by_name("p1").unwrap();
    assert!(d.pool_is_active(&p).unwrap());
    assert!(d.pool_get_autostart(&p).unwrap());
    assert_eq!(d.pool_num_of_volumes(&p).unwrap(), 1);
    d.pool_destroy(&p).unwrap();
    drop(d);
    // Not running at the next start: autostart brings it up.
    let d = open(&t.0);
    let p = d.lookup_pool_by_name("p1").unwrap();
    assert!(d.pool_is_active(&p).unwrap());
    d.pool_destroy(&p).unwrap();
    d.pool_set_autostart(&p, false).unwrap();
    let v = std::path::Path::new(&target).join("a.raw");
    std::fs::remove_file(v).unwrap();
    d.pool_delete(&p, 0).unwrap();
    assert!(!std::path::Path::new(&target).exists());
    d.pool_undefine(&p).unwrap();
    let e = d.lookup_pool_by_name("p1").unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            49,
            "Storage pool not found: no storage pool with matching name 'p1'"
        )
    );
    assert_eq!(
        ev.lock().unwrap().clone(),
        vec!["p1 lifecycle 0", "p1 lifecycle 4", "p1 lifecycle 2",]
    );
}

#[test]
fn transient_pools_duplicates_and_autostart_refusal() {
    let t = TempDir::new("transient");
    let target = t.path("tp");
    std::fs::create_dir_all(&target).unwrap();
    let d = open(&t.0);
    let p = d.pool_create_xml(&dir_pool("tp", &target), 0).unwrap();
    assert!(!d.pool_is_persistent(&p).unwrap());
    assert!(!d.pool_get_autostart(&p).unwrap());
    let e = d.pool_set_autostart(&p, true).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (1, "internal error: pool has no config file")
    );
    // Same name and UUID while running.
    let same = format!(
        "<pool type='dir'><name>tp</name><uuid>{}</uuid><target><path>{}</path></target></pool>",
        p.uuid, target
    );
    let e = d.pool_create_xml(&same, 0).unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: pool is already active as 'tp'"
    );
    // Same target directory under another name.
    let e = d
        .pool_define_xml(&dir_pool("other", &target), 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "operation failed: Storage source conflict with pool: 'tp'"
    );
    // Same name, another UUID.
    let e = d
        .pool_define_xml(
            &format!(
                "<pool type='dir'><name>tp</name><uuid>00000000-0000-0000-0000-0000000000aa</uuid><target><path>{}/x</path></target></pool>",
                target
            ),
            0,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "operation failed: pool 'tp' already exists with uuid {}",
            p.uuid
        )
    );
    // A transient pool survives a daemon restart through its state file.
    drop(d);
    let d = open(&t.0);
    let p2 = d.lookup_pool_by_uuid(&p.uuid).unwrap();
    assert!(d.pool_is_active(&p2).unwrap());
    d.pool_destroy(&p2).unwrap();
    assert!(d.lookup_pool_by_name("tp").is_err());
    // Made persistent while running: define keeps it running.
    let p = d.pool_create_xml(&dir_pool("tp", &target), 0).unwrap();
    let x = d.pool_get_xml_desc(&p, 0).unwrap();
    d.pool_define_xml(&x, 0).unwrap();
    assert!(d.pool_is_persistent(&p).unwrap());
    assert!(d.pool_is_active(&p).unwrap());
    d.pool_destroy(&p).unwrap();
    assert!(d.lookup_pool_by_name("tp").is_ok());
    d.pool_undefine(&p).unwrap();
    // A relative target would land wherever the daemon runs.
    let e = d
        .pool_define_xml(&dir_pool("rel", "relative/dir"), 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: path 'relative/dir' is not absolute"
    );
    assert!(d.pool_create_xml(&dir_pool("rel", "rel2"), 0).is_err());
    assert!(d.lookup_pool_by_name("rel").is_err());
    // Inactive pools refuse volume work.
    let p = d.pool_define_xml(&dir_pool("idle", &target), 0).unwrap();
    let e = d.pool_list_all_volumes(&p, 0).unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'idle' is not active"
    );
    assert!(d
        .vol_create_xml(&p, &vol_xml("x", "raw", 1, None), 0)
        .is_err());
    assert!(d.pool_refresh(&p, 0).is_err());
    assert!(d.pool_destroy(&p).is_err());
    d.pool_undefine(&p).unwrap();
}

#[test]
fn raw_and_qcow2_volumes_with_backing_and_preallocation() {
    let t = TempDir::new("vols");
    let target = t.path("v");
    let d = open(&t.0);
    let p = d.pool_create_xml(&dir_pool("v", &target), 1).unwrap();
    // Sparse raw: allocation 0.
    let v = d
        .vol_create_xml(&p, &vol_xml("sparse.img", "raw", 50 << 20, Some(0)), 0)
        .unwrap();
    let path = d.vol_get_path(&v).unwrap();
    assert_eq!(path, format!("{}/sparse.img", target));
    assert_eq!(v.key, path);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 50 << 20);
    assert!(file_blocks(&path) < 10);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Fully allocated raw (allocation defaults to the capacity).
    let full = d
        .vol_create_xml(&p, &vol_xml("full.img", "raw", 8 << 20, None), 0)
        .unwrap();
    assert!(file_blocks(&d.vol_get_path(&full).unwrap()) >= (8 << 20) / 512);
    let info = d.vol_get_info(&full, 0).unwrap();
    assert_eq!(
        (info.kind, info.capacity, info.allocation),
        (0, 8 << 20, 8 << 20)
    );
    // Names that would escape the pool.
    let e = d
        .vol_create_xml(&p, &vol_xml("../x", "raw", 1, None), 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: volume name '../x' cannot contain '/'"
    );
    let e = d
        .vol_create_xml(&p, &vol_xml("..", "raw", 1, None), 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "Requested operation is not valid: volume target path '{}/..' already exists",
            target
        )
    );
    let e = d
        .vol_create_xml(&p, &vol_xml("full.img", "raw", 1, None), 0)
        .unwrap_err();
    assert_eq!(e.message, "storage volume 'full.img' exists already");
    // qcow2 through qemu-img, compat 0.10 by default.
    let q = d
        .vol_create_xml(&p, &vol_xml("base.qcow2", "qcow2", 1 << 30, None), 0)
        .unwrap();
    let qp = d.vol_get_path(&q).unwrap();
    let info = qemu_img_info(&qp);
    assert!(
        info.contains("file format: qcow2") && info.contains("compat: 0.10"),
        "{}",
        info
    );
    assert!(std::fs::metadata(&qp).unwrap().len() < 1 << 20);
    let x = d.vol_get_xml_desc(&q, 0).unwrap();
    assert!(
        x.contains("<capacity unit='bytes'>1073741824</capacity>"),
        "{}",
        x
    );
    assert!(
        x.contains("<format type='qcow2'/>") && x.contains("<timestamps>"),
        "{}",
        x
    );
    // An overlay with a backing store.
    let ov = format!(
        "<volume><name>top.qcow2</name><capacity>1073741824</capacity><target><format type='qcow2'/><compat>1.1</compat></target><backingStore><path>{qp}</path><format type='qcow2'/></backingStore></volume>"
    );
    let top = d.vol_create_xml(&p, &ov, 0).unwrap();
    let info = qemu_img_info(&d.vol_get_path(&top).unwrap());
    assert!(info.contains(&format!("backing file: {}", qp)), "{}", info);
    assert!(info.contains("backing file format: qcow2"), "{}", info);
    let x = d.vol_get_xml_desc(&top, 0).unwrap();
    assert!(
        x.contains(&format!(
            "<backingStore>\n    <path>{}</path>\n    <format type='qcow2'/>",
            qp
        )),
        "{}",
        x
    );
    // Metadata preallocation: only for qcow2.
    let e = d
        .vol_create_xml(
            &p,
            &vol_xml("m.raw", "raw", 1 << 20, None),
            vol_create::PREALLOC_METADATA,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "unsupported configuration: metadata preallocation is not supported for raw volumes"
    );
    let m = d
        .vol_create_xml(
            &p,
            &vol_xml("m.qcow2", "qcow2", 4 << 20, Some(1 << 20)),
            vol_create::PREALLOC_METADATA,
        )
        .unwrap();
    assert!(qemu_img_info(&d.vol_get_path(&m).unwrap()).contains("qcow2"));
    // A file made behind our back shows only after a refresh, probed.
    std::fs::copy(&qp, format!("{}/outside.img", target)).unwrap();
    assert_eq!(
        d.lookup_vol_by_name(&p, "outside.img").unwrap_err().code,
        50
    );
    d.pool_refresh(&p, 0).unwrap();
    let o = d.lookup_vol_by_name(&p, "outside.img").unwrap();
    let x = d.vol_get_xml_desc(&o, 0).unwrap();
    assert!(
        x.contains("<format type='qcow2'/>")
            && x.contains("<clusterSize unit='B'>65536</clusterSize>"),
        "{}",
        x
    );
    let t2 = d.lookup_vol_by_name(&p, "top.qcow2").unwrap();
    let x = d.vol_get_xml_desc(&t2, 0).unwrap();
    assert!(
        x.contains("<compat>1.1</compat>") && x.contains("<backingStore>"),
        "{}",
        x
    );
    // Lookups by key and path, and the pool of a volume.
    assert_eq!(d.lookup_vol_by_key(&qp).unwrap().name, "base.qcow2");
    assert_eq!(
        d.lookup_vol_by_path(&format!("{}//base.qcow2", target))
            .unwrap()
            .name,
        "base.qcow2"
    );
    let e = d.lookup_vol_by_path("/nope//x").unwrap_err();
    assert_eq!(
        e.message,
        "Storage volume not found: no storage vol with matching path '/nope//x' (/nope/x)"
    );
    assert_eq!(d.lookup_pool_by_volume(&o).unwrap().name, "v");
    // Delete; the pool forgets it.
    d.vol_delete(&o, 0).unwrap();
    assert!(!std::path::Path::new(&format!("{}/outside.img", target)).exists());
    let names: Vec<String> = d
        .pool_list_all_volumes(&p, 0)
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names.len(), 5, "{:?}", names);
    for v in d.pool_list_all_volumes(&p, 0).unwrap() {
        d.vol_delete(&v, 0).unwrap();
    }
    d.pool_destroy(&p).unwrap();
}

#[test]
fn clone_with_conversion_resize_and_wipe() {
    let t = TempDir::new("clone");
    let target = t.path("c");
    let d = open(&t.0);
    let p = d.pool_create_xml(&dir_pool("c", &target), 1).unwrap();
    let src = d
        .vol_create_xml(&p, &vol_xml("src.img", "raw", 4 << 20, Some(0)), 0)
        .unwrap();
    let sp = d.vol_get_path(&src).unwrap();
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(&sp).unwrap();
        for i in 0..(1 << 20) / 64 {
            f.write_all(format!("{:063}\n", i).as_bytes()).unwrap();
        }
    }
    let sum = md5(&sp);
    // raw -> qcow2 -> raw keeps the data.
    let q = d
        .vol_create_xml_from(&p, &vol_xml("c.qcow2", "qcow2", 0, None), &src, 0)
        .unwrap();
    let qp = d.vol_get_path(&q).unwrap();
    assert!(qemu_img_info(&qp).contains("file format: qcow2"));
    let back = d
        .vol_create_xml_from(&p, &vol_xml("back.img", "raw", 0, None), &q, 0)
        .unwrap();
    assert_eq!(md5(&d.vol_get_path(&back).unwrap()), sum);
    let r = d
        .vol_create_xml_from(&p, &vol_xml("copy.img", "raw", 0, None), &src, 0)
        .unwrap();
    assert_eq!(md5(&d.vol_get_path(&r).unwrap()), sum);
    let e = d
        .vol_create_xml_from(&p, &vol_xml("copy.img", "raw", 0, None), &src, 0)
        .unwrap_err();
    assert_eq!(
        e.message,
        "internal error: storage volume name 'copy.img' already in use."
    );

    // A sparse clone of a sparse source with zero-filled blocks: every
    // block of zeros becomes a hole (virStorageBackendCopyToFD); a
    // clone with its allocation is whole.
    let holes = d
        .vol_create_xml(&p, &vol_xml("holes.img", "raw", 8 << 20, Some(0)), 0)
        .unwrap();
    let hp = d.vol_get_path(&holes).unwrap();
    {
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::OpenOptions::new().write(true).open(&hp).unwrap();
        let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8 | 1).collect();
        f.write_all(&data).unwrap();
        f.seek(SeekFrom::Start(2 << 20)).unwrap();
        f.write_all(&vec![0u8; 1 << 20]).unwrap();
        f.write_all(&data[..4096]).unwrap();
        f.sync_all().unwrap();
    }
    let hsum = md5(&hp);
    let sc = d
        .vol_create_xml_from(
            &p,
            &vol_xml("sparse-clone.img", "raw", 8 << 20, Some(0)),
            &holes,
            0,
        )
        .unwrap();
    let scp = d.vol_get_path(&sc).unwrap();
    assert_eq!(md5(&scp), hsum);
    use std::os::unix::fs::MetadataExt;
    let used = std::fs::metadata(&scp).unwrap().blocks() * 512;
    assert!(
        ((1 << 20) + 4096..=(1 << 20) + 4096 + 8192).contains(&used),
        "sparse clone allocates {} bytes",
        used
    );
    let fc = d
        .vol_create_xml_from(
            &p,
            &vol_xml("full-clone.img", "raw", 8 << 20, None),
            &holes,
            0,
        )
        .unwrap();
    let fcp = d.vol_get_path(&fc).unwrap();
    assert_eq!(md5(&fcp), hsum);
    assert!(std::fs::metadata(&fcp).unwrap().blocks() * 512 >= 8 << 20);
    for v in [&holes, &sc, &fc] {
        d.vol_delete(v, 0).unwrap();
    }

    // A sparse clone of a 64 GiB volume holding 8 KiB: the source's holes
    // are stepped over (SEEK_DATA), not read; the copy holds the same
    // bytes at the same offsets and allocates about as little.
    let big_cap: u64 = 64 << 30;
    let big = d
        .vol_create_xml(&p, &vol_xml("big.img", "raw", big_cap, Some(0)), 0)
        .unwrap();
    let bp = d.vol_get_path(&big).unwrap();
    let head: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8 | 1).collect();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&bp).unwrap();
        f.write_all_at(&head, 0).unwrap();
        f.write_all_at(&head, big_cap - 4096).unwrap();
        f.sync_all().unwrap();
    }
    let bc = d
        .vol_create_xml_from(
            &p,
            &vol_xml("big-clone.img", "raw", big_cap, Some(0)),
            &big,
            0,
        )
        .unwrap();
    let bcp = d.vol_get_path(&bc).unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::open(&bcp).unwrap();
        assert_eq!(f.metadata().unwrap().len(), big_cap);
        let mut got = vec![0u8; 4096];
        for at in [0, big_cap - 4096] {
            f.read_exact_at(&mut got, at).unwrap();
            assert_eq!(got, head, "clone's bytes at {}", at);
        }
        f.read_exact_at(&mut got, big_cap / 2).unwrap();
        assert!(got.iter().all(|b| *b == 0));
        let used = f.metadata().unwrap().blocks() * 512;
        assert!(used <= 64 << 10, "sparse clone of 8 KiB allocates {}", used);
    }
    for v in [&big, &bc] {
        d.vol_delete(v, 0).unwrap();
    }

    // Resize: grow, delta, shrink rules, allocate.
    d.vol_resize(&r, 8 << 20, 0).unwrap();
    assert_eq!(
        std::fs::metadata(d.vol_get_path(&r).unwrap())
            .unwrap()
            .len(),
        8 << 20
    );
    d.vol_resize(&r, 1 << 20, vol_resize::DELTA).unwrap();
    assert_eq!(d.vol_get_info(&r, 0).unwrap().capacity, 9 << 20);
    let e = d.vol_resize(&r, 5 << 20, 0).unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: Can't shrink capacity below current capacity unless shrink flag explicitly specified"
    );
    let e = d.vol_resize(&r, 3 << 20, vol_resize::SHRINK).unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: can't shrink capacity below existing allocation"
    );
    let sparse = d
        .vol_create_xml(&p, &vol_xml("s.img", "raw", 8 << 20, Some(0)), 0)
        .unwrap();
    let e = d.vol_resize(&sparse, 4 << 20, 0).unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: Can't shrink capacity below current capacity unless shrink flag explicitly specified"
    );
    d.vol_resize(&sparse, 2 << 20, vol_resize::DELTA | vol_resize::SHRINK)
        .unwrap();
    assert_eq!(
        std::fs::metadata(d.vol_get_path(&sparse).unwrap())
            .unwrap()
            .len(),
        6 << 20
    );
    d.vol_resize(&sparse, 10 << 20, vol_resize::ALLOCATE)
        .unwrap();
    assert!(file_blocks(&d.vol_get_path(&sparse).unwrap()) >= (4 << 20) / 512);
    d.vol_resize(&q, 16 << 20, 0).unwrap();
    assert!(qemu_img_info(&qp).contains("16 MiB"));
    let e = d
        .vol_resize(&q, 32 << 20, vol_resize::ALLOCATE)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Operation not supported: preallocate is only supported for raw type volume"
    );

    // Zero wipe keeps a sparse file sparse.
    let sp2 = d
        .vol_create_xml(&p, &vol_xml("z.img", "raw", 16 << 20, Some(0)), 0)
        .unwrap();
    let zp = d.vol_get_path(&sp2).unwrap();
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(&zp).unwrap();
        f.write_all(&[7u8; 65536]).unwrap();
    }
    d.vol_wipe(&sp2, wipe_alg::ZERO, 0).unwrap();
    assert_eq!(std::fs::metadata(&zp).unwrap().len(), 16 << 20);
    assert!(file_blocks(&zp) < 16);
    let mut buf = vec![0u8; 65536];
    std::fs::File::open(&zp)
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    assert!(buf.iter().all(|b| *b == 0));
    // An allocated file is overwritten with zeros.
    d.vol_wipe(&r, wipe_alg::ZERO, 0).unwrap();
    let mut f = std::fs::File::open(d.vol_get_path(&r).unwrap()).unwrap();
    let mut all = Vec::new();
    f.read_to_end(&mut all).unwrap();
    assert!(all.iter().all(|b| *b == 0));
    let e = d.vol_wipe(&r, wipe_alg::TRIM, 0).unwrap_err();
    assert_eq!(
        e.message,
        "argument unsupported: 'trim' algorithm not supported"
    );
    let e = d.vol_wipe(&r, 10, 0).unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: wiping algorithm 10 not supported"
    );
    if oxvirt_host::command::find_in_path("scrub").is_some() {
        let small = d
            .vol_create_xml(&p, &vol_xml("w.img", "raw", 256 << 10, None), 0)
            .unwrap();
        for alg in 1..9 {
            d.vol_wipe(&small, alg, 0).unwrap();
        }
        // A wiped qcow2 is raw data afterwards, as libvirt re-probes it.
        d.vol_wipe(&q, wipe_alg::RANDOM, 0).unwrap();
        let x = d.vol_get_xml_desc(&q, 0).unwrap();
        assert!(x.contains("<format type='raw'/>"), "{}", x);
    } else {
        eprintln!("SKIP: scrub is not installed; pattern wipes not run");
    }
    for v in d.pool_list_all_volumes(&p, 0).unwrap() {
        d.vol_delete(&v, 0).unwrap();
    }
}

#[test]
fn uploads_and_downloads_with_offsets_and_holes() {
    let t = TempDir::new("stream");
    let target = t.path("s");
    let d = open(&t.0);
    let p = d.pool_create_xml(&dir_pool("s", &target), 1).unwrap();
    let v = d
        .vol_create_xml(&p, &vol_xml("u.img", "raw", 8 << 20, Some(0)), 0)
        .unwrap();
    // Upload 1 MiB of data at 1 MiB.
    let data: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8 + 1).collect();
    let mut s = d.vol_upload(&v, 1 << 20, 0, 0).unwrap();
    for c in data.chunks(262_120) {
        s.send(c).unwrap();
    }
    s.finish().unwrap();
    drop(s);
    // Download the window back.
    let mut s = d.vol_download(&v, 1 << 20, 1 << 20, 0).unwrap();
    let mut got = Vec::new();
    while let Some(c) = s.recv().unwrap() {
        got.extend_from_slice(&c);
    }
    assert_eq!(got, data);
    // A sparse download sends the holes as holes.
    let mut s = d.vol_download(&v, 0, 0, 1).unwrap();
    let mut holes = 0u64;
    let mut bytes = 0u64;
    while let Some(c) = s.recv_sparse().unwrap() {
        match c {
            StreamChunk::Hole(n) => holes += n,
            StreamChunk::Data(b) => bytes += b.len() as u64,
        }
    }
    assert_eq!(holes + bytes, 8 << 20);
    assert!(holes >= 6 << 20, "holes {}", holes);
    // A sparse upload: data, hole, data.
    let w = d
        .vol_create_xml(&p, &vol_xml("w.img", "raw", 8 << 20, Some(0)), 0)
        .unwrap();
    let mut s = d.vol_upload(&w, 0, 0, 1).unwrap();
    s.send(&[1u8; 4096]).unwrap();
    s.send_hole((4 << 20) - 4096).unwrap();
    s.send(&[2u8; 4096]).unwrap();
    s.send_hole((4 << 20) - 4096).unwrap();
    s.finish().unwrap();
    drop(s);
    let wp = d.vol_get_path(&w).unwrap();
    assert_eq!(std::fs::metadata(&wp).unwrap().len(), 8 << 20);
    assert!(file_blocks(&wp) < 64, "blocks {}", file_blocks(&wp));
    // An upload longer than its window stops at the window.
    let mut s = d.vol_upload(&w, 0, 4096, 0).unwrap();
    let e = s.send(&[3u8; 8192]).unwrap_err();
    assert_eq!(e.message, "cannot write to stream: No space left on device");
    s.abort().unwrap();
    // A non-sparse stream refuses holes.
    let mut s = d.vol_upload(&w, 0, 0, 0).unwrap();
    assert!(s.send_hole(10).is_err());
    drop(s);
    for v in d.pool_list_all_volumes(&p, 0).unwrap() {
        d.vol_delete(&v, 0).unwrap();
    }
}

#[test]
fn luks_volumes_take_their_key_from_a_secret() {
    let t = TempDir::new("luks");
    let target = t.path("l");
    let (d, secrets) = open_with(&t.0);
    let p = d.pool_create_xml(&dir_pool("l", &target), 1).unwrap();
    let vpath = format!("{}/enc.img", target);
    let s = secrets
        .secret_define_xml(
            &format!("<secret ephemeral='no' private='yes'><usage type='volume'><volume>{vpath}</volume></usage></secret>"),
            0,
        )
        .unwrap();
    secrets.secret_set_value(&s, b"correct horse", 0).unwrap();
    let xml = |name: &str, fmt: &str| {
        format!(
            "<volume><name>{name}</name><capacity>16777216</capacity><target><format type='{fmt}'/><encryption format='luks'><secret type='passphrase' uuid='{}'/></encryption></target></volume>",
            s.uuid
        )
    };
    let v = d.vol_create_xml(&p, &xml("enc.img", "raw"), 0).unwrap();
    let info = qemu_img_info(&vpath);
    assert!(info.contains("file format: luks"), "{}", info);
    // No key left behind in the run directory.
    let run = t.0.join("storage/run");
    assert!(std::fs::read_dir(&run).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("secret")));
    let x = d.vol_get_xml_desc(&v, 0).unwrap();
    assert!(x.contains("<encryption format='luks'>"), "{}", x);
    // After a refresh the volume is found encrypted with its secret.
    d.pool_refresh(&p, 0).unwrap();
    let v = d.lookup_vol_by_name(&p, "enc.img").unwrap();
    let x = d.vol_get_xml_desc(&v, 0).unwrap();
    assert!(
        x.contains(&format!("<secret type='passphrase' uuid='{}'/>", s.uuid)),
        "{}",
        x
    );
    let q = d.vol_create_xml(&p, &xml("enc.qcow2", "qcow2"), 0).unwrap();
    let info = qemu_img_info(&d.vol_get_path(&q).unwrap());
    assert!(info.contains("encrypted: yes"), "{}", info);
    d.vol_resize(&v, 32 << 20, 0).unwrap();
    // A key that does not open the volume is qemu-img's error.
    let bad =
        xml("x.img", "raw").replace(&s.uuid.to_string(), "00000000-0000-0000-0000-00000000000b");
    let e = d.vol_create_xml(&p, &bad, 0).unwrap_err();
    assert_eq!(
        e.message,
        "Secret not found: no secret with matching uuid '00000000-0000-0000-0000-00000000000b'"
    );
    for v in d.pool_list_all_volumes(&p, 0).unwrap() {
        d.vol_delete(&v, 0).unwrap();
    }
}

#[test]
fn looping_and_lying_images() {
    let t = TempDir::new("bad");
    let target = t.path("b");
    std::fs::create_dir_all(&target).unwrap();
    // a.qcow2 backed by b.qcow2 backed by a.qcow2.
    let a = format!("{}/a.qcow2", target);
    let b = format!("{}/b.qcow2", target);
    let run = |args: &[&str]| {
        assert!(std::process::Command::new("qemu-img")
            .args(args)
            .output()
            .unwrap()
            .status
            .success());
    };
    run(&["create", "-q", "-f", "qcow2", &a, "1M"]);
    run(&["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", &a, &b]);
    run(&["rebase", "-q", "-u", "-F", "qcow2", "-b", &b, &a]);
    let e = oxvirt_storage::probe::chain(&a, Some(oxvirt_storage::probe::QCOW2), 200, false)
        .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "internal error: backing store for {} is self-referential or too deeply nested",
            a
        )
    );
    // A header claiming an absurd size.
    let lie = format!("{}/lie.qcow2", target);
    run(&["create", "-q", "-f", "qcow2", &lie, "1M"]);
    {
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::OpenOptions::new().write(true).open(&lie).unwrap();
        f.seek(SeekFrom::Start(24)).unwrap();
        f.write_all(&u64::MAX.to_be_bytes()).unwrap();
    }
    let d = open(&t.0);
    let p = d.pool_create_xml(&dir_pool("b", &target), 0).unwrap();
    let v = d.lookup_vol_by_name(&p, "lie.qcow2").unwrap();
    assert_eq!(d.vol_get_info(&v, 0).unwrap().capacity, u64::MAX);
    let l = d.lookup_vol_by_name(&p, "a.qcow2").unwrap();
    let x = d.vol_get_xml_desc(&l, 0).unwrap();
    assert!(
        x.contains(&format!("<backingStore>\n    <path>{}</path>", b)),
        "{}",
        x
    );
    d.pool_destroy(&p).unwrap();
}

#[test]
fn half_built_volumes_never_show() {
    let t = TempDir::new("partial");
    let target = t.path("h");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(format!("{}/.oxvirt-partial-x.img", target), b"half").unwrap();
    std::fs::write(format!("{}/real.img", target), b"data").unwrap();
    let d = open(&t.0);
    let p = d.pool_define_xml(&dir_pool("h", &target), 0).unwrap();
    d.pool_create(&p, 0).unwrap();
    let names: Vec<String> = d
        .pool_list_all_volumes(&p, 0)
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, vec!["real.img"]);
    drop(d);
    // As with libvirtd, a persistent dir pool whose directory exists is
    // running after a restart; the restart clears the leftovers.
    std::fs::write(format!("{}/.oxvirt-partial-y.img", target), b"half").unwrap();
    let _d = open(&t.0);
    assert!(!std::path::Path::new(&format!("{}/.oxvirt-partial-y.img", target)).exists());
}
