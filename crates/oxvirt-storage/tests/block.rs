//! Pools on block devices: fs (a loop device with ext4, mounted), disk
//! (a loop device partitioned with parted), logical (LVM on loop devices,
//! as far as a kernel without device-mapper allows) and netfs (as far as
//! a kernel without NFS allows). Every loop device, mount and volume
//! group is removed at the end, also when a test fails.

mod common;

use std::process::Command;

use common::*;
use oxvirt_core::types::flags::pool_build;

fn have(tool: &str) -> bool {
    oxvirt_host::command::find_in_path(tool).is_some()
}

/// Serialises the tests that take loop devices (there are few of them).
static LOOPS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn fs_pool_on_a_loop_device() {
    let _g = LOOPS.lock().unwrap_or_else(|p| p.into_inner());
    let t = TempDir::new("fs");
    let Some(l) = Loop::new(&t.0, "fs.img", 64 << 20) else {
        eprintln!("SKIP: no loop device");
        return;
    };
    let mnt = t.path("mnt");
    let d = open(&t.0);
    let p = d
        .pool_define_xml(
            &format!(
                "<pool type='fs'><name>fsp</name><source><device path='{}'/><format type='ext4'/></source><target><path>{}</path></target></pool>",
                l.dev, mnt
            ),
            0,
        )
        .unwrap();
    // Nothing on the device: starting fails in mount.
    assert!(d.pool_create(&p, 0).is_err());
    d.pool_build(&p, pool_build::NO_OVERWRITE).unwrap();
    // Now it carries ext4: a second build without overwrite is refused.
    let e = d.pool_build(&p, pool_build::NO_OVERWRITE).unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "Storage pool already built: Device '{}' already formatted using 'ext4'",
            l.dev
        )
    );
    d.pool_create(&p, 0).unwrap();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        mounts.contains(&format!("{} {} ext4", l.dev, mnt)),
        "{}",
        mounts
    );
    let info = d.pool_get_info(&p).unwrap();
    assert!(
        info.capacity > 50 << 20 && info.capacity < 64 << 20,
        "{:?}",
        info
    );
    // lost+found is a directory volume.
    let lf = d.lookup_vol_by_name(&p, "lost+found").unwrap();
    assert_eq!(d.vol_get_info(&lf, 0).unwrap().kind, 2);
    let v = d
        .vol_create_xml(
            &p,
            "<volume><name>v.qcow2</name><capacity>10485760</capacity><target><format type='qcow2'/></target></volume>",
            0,
        )
        .unwrap();
    assert!(qemu_img_info(&d.vol_get_path(&v).unwrap()).contains("qcow2"));
    d.vol_delete(&v, 0).unwrap();
    // A restarted daemon finds it mounted, hence running.
    drop(d);
    let d = open(&t.0);
    let p = d.lookup_pool_by_name("fsp").unwrap();
    assert!(d.pool_is_active(&p).unwrap());
    d.pool_destroy(&p).unwrap();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(&mnt));
    d.pool_undefine(&p).unwrap();
    drop(l);
}

#[test]
fn disk_pool_partitions_a_loop_device() {
    let _g = LOOPS.lock().unwrap_or_else(|p| p.into_inner());
    if !have("parted") {
        eprintln!("SKIP: parted is not installed");
        return;
    }
    let t = TempDir::new("disk");
    let Some(l) = Loop::new(&t.0, "disk.img", 100 << 20) else {
        eprintln!("SKIP: no loop device");
        return;
    };
    let base = l.dev.rsplit('/').next().unwrap().to_string();
    let d = open(&t.0);
    let p = d
        .pool_define_xml(
            &format!(
                "<pool type='disk'><name>dp</name><source><device path='{}'/><format type='dos'/></source><target><path>/dev</path></target></pool>",
                l.dev
            ),
            0,
        )
        .unwrap();
    let e = d.pool_create(&p, 0).unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "Storage pool probe failed: Device '{}' is unrecognized, requires build",
            l.dev
        )
    );
    d.pool_build(&p, 0).unwrap();
    let e = d.pool_build(&p, 0).unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "Storage pool already built: Device '{}' already formatted using 'dos'",
            l.dev
        )
    );
    d.pool_build(&p, pool_build::OVERWRITE).unwrap();
    d.pool_create(&p, 0).unwrap();
    let x = d.pool_get_xml_desc(&p, 0).unwrap();
    // libparted keeps the last partial cylinder as metadata (reference:
    // libvirtd 9.0 on a 100 MiB loop device).
    assert!(
        x.contains("<freeExtent start='1024' end='104709120'/>"),
        "{}",
        x
    );
    assert!(
        x.contains("<capacity unit='bytes'>104709120</capacity>"),
        "{}",
        x
    );
    assert!(
        x.contains("<available unit='bytes'>104708096</available>"),
        "{}",
        x
    );
    let name1 = format!("{}p1", base);
    let v = d
        .vol_create_xml(
            &p,
            &format!(
                "<volume><name>{}</name><capacity>10485760</capacity></volume>",
                name1
            ),
            0,
        )
        .unwrap();
    let x = d.vol_get_xml_desc(&v, 0).unwrap();
    // The same extent libvirtd 9.0 chose on the same device.
    assert!(
        x.contains(&format!(
            "<device path='{}'>\n      <extent start='1024' end='10705920'/>",
            l.dev
        )),
        "{}",
        x
    );
    assert!(
        x.contains("<capacity unit='bytes'>10704896</capacity>"),
        "{}",
        x
    );
    let e = d
        .vol_create_xml(
            &p,
            "<volume><name>wrong</name><capacity>10485760</capacity></volume>",
            0,
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "invalid argument: invalid partition name 'wrong', expected '{}p2'",
            base
        )
    );
    // Unlike libvirtd 9.0, the mis-named partition is gone again.
    assert_eq!(d.pool_num_of_volumes(&p).unwrap(), 1);
    let v2 = d
        .vol_create_xml(
            &p,
            &format!(
                "<volume><name>{}p2</name><capacity>5242880</capacity></volume>",
                base
            ),
            0,
        )
        .unwrap();
    assert_eq!(
        d.lookup_vol_by_path(&format!("/dev/{}p2", base))
            .unwrap()
            .name,
        v2.name
    );
    // Partition data round-trips through upload and download.
    let mut s = d.vol_upload(&v2, 0, 0, 0).unwrap();
    s.send(&[9u8; 4096]).unwrap();
    s.finish().unwrap();
    drop(s);
    let mut s = d.vol_download(&v2, 0, 4096, 0).unwrap();
    let got = s.recv().unwrap().unwrap();
    assert_eq!(got, vec![9u8; 4096]);
    drop(s);
    d.vol_wipe(&v2, 0, 0).unwrap();
    // Deleting a partition of a loop device works (libvirtd 9.0 fails:
    // it passes parted "p1" for the partition number).
    d.vol_delete(&v, 0).unwrap();
    d.vol_delete(&v2, 0).unwrap();
    assert_eq!(d.pool_num_of_volumes(&p).unwrap(), 0);
    d.pool_destroy(&p).unwrap();
    d.pool_delete(&p, 0).unwrap();
    d.pool_undefine(&p).unwrap();
    let out = Command::new("blkid").args(["-p", &l.dev]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "label wiped");
}

#[test]
fn logical_pool_as_far_as_the_kernel_allows() {
    let _g = LOOPS.lock().unwrap_or_else(|p| p.into_inner());
    if !have("pvcreate") {
        eprintln!("SKIP: lvm2 is not installed");
        return;
    }
    let t = TempDir::new("lvm");
    let Some(l) = Loop::new(&t.0, "pv.img", 64 << 20) else {
        eprintln!("SKIP: no loop device");
        return;
    };
    let vg = format!("oxvirtvg{}", std::process::id());
    /// Removes the volume group even when the test fails.
    struct Vg(String, String);
    impl Drop for Vg {
        fn drop(&mut self) {
            let _ = Command::new("vgremove").args(["-f", &self.0]).output();
            let _ = Command::new("pvremove")
                .args(["-ff", "-y", &self.1])
                .output();
        }
    }
    let _vg = Vg(vg.clone(), l.dev.clone());
    let d = open(&t.0);
    let p = d
        .pool_define_xml(
            &format!(
                "<pool type='logical'><name>{vg}</name><source><device path='{}'/></source></pool>",
                l.dev
            ),
            0,
        )
        .unwrap();
    let x = d.pool_get_xml_desc(&p, 0).unwrap();
    assert!(x.contains(&format!("<path>/dev/{}</path>", vg)), "{}", x);
    // Build: pvcreate and vgcreate work on this kernel.
    d.pool_build(&p, 0).unwrap();
    let out = Command::new("pvs")
        .args(["--noheadings", "-o", "pv_name,vg_name"])
        .output()
        .unwrap();
    let pvs = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(pvs.contains(&vg) && pvs.contains(&l.dev), "{}", pvs);
    let sources = d.find_storage_pool_sources("logical", None, 0).unwrap();
    assert!(
        sources.contains(&format!("<device path='{}'/>", l.dev))
            && sources.contains(&format!("<name>{}</name>", vg)),
        "{}",
        sources
    );
    // Start (vgchange -aly) and refresh (lvs, vgs) need no device-mapper
    // while the group holds no logical volume.
    match d.pool_create(&p, 0) {
        Ok(()) => {
            let info = d.pool_get_info(&p).unwrap();
            assert!(info.capacity > 0 && info.capacity <= 64 << 20, "{:?}", info);
            assert_eq!(info.allocation, 0);
            // lvcreate needs device-mapper, which this kernel lacks.
            let r = d.vol_create_xml(
                &p,
                "<volume><name>lv1</name><capacity>4194304</capacity></volume>",
                0,
            );
            match r {
                Ok(v) => d.vol_delete(&v, 0).unwrap(),
                Err(e) => {
                    assert!(
                        e.message.starts_with(
                            "internal error: Child process (/sbin/lvcreate --name lv1 -L 4096K "
                        ),
                        "{}",
                        e.message
                    );
                    eprintln!(
                        "SKIP: logical volume creation (no device-mapper in this kernel): {}",
                        e.message.trim()
                    );
                }
            }
            let e = d
                .vol_create_xml(
                    &p,
                    "<volume><name>z</name><capacity>0</capacity></volume>",
                    0,
                )
                .unwrap_err();
            assert_eq!(
                e.message,
                "this function is not supported by the connection driver: volume capacity required for this storage pool"
            );
            d.pool_destroy(&p).unwrap();
        }
        Err(e) => eprintln!(
            "SKIP: vgchange -aly failed on this kernel: {}",
            e.message.trim()
        ),
    }
    d.pool_delete(&p, 0).unwrap();
    let out = Command::new("vgs").arg(&vg).output().unwrap();
    assert!(!out.status.success(), "the volume group is gone");
    d.pool_undefine(&p).unwrap();
}

#[test]
fn netfs_pool_where_the_kernel_cannot_mount() {
    let t = TempDir::new("netfs");
    let mnt = t.path("n");
    let d = open(&t.0);
    let p = d
        .pool_define_xml(
            &format!(
                "<pool type='netfs'><name>np</name><source><host name='127.0.0.1'/><dir path='/export'/><format type='nfs'/></source><target><path>{}</path></target></pool>",
                mnt
            ),
            0,
        )
        .unwrap();
    d.pool_build(&p, 0).unwrap();
    assert!(std::path::Path::new(&mnt).is_dir());
    let nfs = std::fs::read_to_string("/proc/filesystems")
        .unwrap()
        .lines()
        .any(|l| l.trim_end().ends_with("\tnfs") || l.trim_end().ends_with(" nfs"));
    let r = d.pool_create(&p, 0);
    if nfs {
        eprintln!(
            "note: this kernel has NFS; mounting 127.0.0.1:/export gave {:?}",
            r.err()
        );
    } else {
        let e = r.unwrap_err();
        assert!(
            e.message.starts_with(&format!(
                "internal error: Child process (/bin/mount -o nodev,nosuid,noexec -t nfs 127.0.0.1:/export {}) unexpected exit status",
                mnt
            )),
            "{}",
            e.message
        );
        eprintln!(
            "SKIP: mounting NFS (not in this kernel): {}",
            e.message.trim()
        );
    }
    assert!(!d.pool_is_active(&p).unwrap());
    let e = d.find_storage_pool_sources("netfs", None, 0).unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: hostname must be specified for netfs sources"
    );
    d.pool_delete(&p, 0).unwrap();
    d.pool_undefine(&p).unwrap();
}
