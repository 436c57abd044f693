//! The machine: `-machine` and its properties, `-accel`, `-cpu`, memory
//! (`-m` and the memory backend libvirt gives the main RAM or each NUMA
//! node), `-smp`, iothreads, `-numa`, clock, power management and boot.

use oxvirt_core::Result;
use oxvirt_xml::dom::Element;
use oxvirt_xml::domain::VirtType;
use oxvirt_xml::props::XmlEnum;

use super::memory::{default_ram_id, kib_text, numa_cells};
use super::{esc, num, unsupported, Args, Ctx, Props};

/// `-machine TYPE,usb=off,...` (qemuBuildMachineCommandLine).
pub fn machine(cx: &Ctx, a: &mut Args) -> Result<()> {
    let mut m = esc(cx.machine());
    m.push_str(",usb=off");
    if let Some(v) = cx.feature("vmport").and_then(|f| f.attr("state")) {
        m.push_str(&format!(",vmport={}", v));
    }
    if let Some(v) = cx.feature("smm").and_then(|f| f.attr("state")) {
        m.push_str(&format!(",smm={}", v));
    }
    match cx.feature("ioapic").and_then(|f| f.attr("driver")) {
        Some("qemu") => m.push_str(",kernel_irqchip=split"),
        Some("kvm") => m.push_str(",kernel_irqchip=on"),
        _ => {}
    }
    if let Some(i) = cx.devices("iommu").first() {
        if i.attr("model") == Some("smmuv3") {
            m.push_str(",iommu=smmuv3");
        }
    }
    let dump = match cx.def.dump_core {
        Some(true) => "on",
        _ => "off",
    };
    m.push_str(&format!(",dump-guest-core={}", dump));
    if cx
        .root
        .child("memoryBacking")
        .and_then(|b| b.child("nosharepages"))
        .is_some()
    {
        m.push_str(",mem-merge=off");
    }
    if cx
        .devices("memory")
        .iter()
        .any(|d| d.attr("model") == Some("nvdimm"))
    {
        m.push_str(",nvdimm=on");
    }
    if numa_cells(cx).is_empty() {
        if let Some(id) = default_ram_id(cx) {
            m.push_str(&format!(",memory-backend={}", id));
        }
    }
    // HMAT: NUMA interconnects or memory-side caches (virDomainNumaHasHMAT).
    let numa = cx.root.child("cpu").and_then(|c| c.child("numa"));
    if numa.is_some_and(|n| {
        n.child("interconnects").is_some()
            || n.children_named("cell").any(|c| c.child("cache").is_some())
    }) {
        m.push_str(",hmat=on");
    }
    if let Some(sec) = cx.root.child("launchSecurity") {
        if sec.attr("type").is_some() {
            m.push_str(",confidential-guest-support=lsec0");
        }
    }
    if super::disk::old_style_uefi(cx) {
        m.push_str(",pflash0=libvirt-pflash0-format");
        if super::disk::nvram_path(cx).is_some() {
            m.push_str(",pflash1=libvirt-pflash1-format");
        }
    }
    if cx
        .root
        .child("os")
        .and_then(|o| o.child("bios"))
        .and_then(|b| b.attr("useserial"))
        == Some("yes")
    {
        m.push_str(",graphics=off");
    }
    a.push("-machine", m);
    Ok(())
}

/// `-accel tcg|kvm`.
pub fn accel(cx: &Ctx, a: &mut Args) -> Result<()> {
    match cx.def.virt_type {
        VirtType::Kvm => a.push("-accel", "kvm"),
        VirtType::Qemu => {
            let mut s = "tcg".to_string();
            if let Some(tb) = cx
                .feature("tcg")
                .and_then(|t| t.child("tb-cache"))
                .map(kib_text)
                .filter(|v| *v > 0)
            {
                s.push_str(&format!(",tb-size={}", tb >> 10));
            }
            a.push("-accel", s)
        }
        other => {
            return Err(unsupported(format!(
                "Emulator '{}' does not support virt type '{}'",
                cx.def.devices.emulator.as_deref().unwrap_or(""),
                other.to_xml()
            )))
        }
    }
    Ok(())
}

/// `-global mch.extended-tseg-mbytes=N`.
pub fn tseg(cx: &Ctx, a: &mut Args) {
    if let Some(t) = cx.feature("smm").and_then(|s| s.child("tseg")) {
        a.push(
            "-global",
            format!("mch.extended-tseg-mbytes={}", kib_text(t) >> 10),
        );
    }
}

/// `-cpu MODEL,feature=on|off`.
pub fn cpu(cx: &Ctx, a: &mut Args) -> Result<()> {
    let cpu = cx.root.child("cpu");
    let kvm = cx.def.virt_type == VirtType::Kvm;
    let arch = cx.def.os.arch.as_deref().unwrap_or("x86_64");
    let x86 = matches!(arch, "x86_64" | "i686");
    let on = |e: Option<&Element>| e.and_then(|e| e.attr("state")) == Some("on");
    let mode = cpu.and_then(|c| c.attr("mode")).unwrap_or("custom");
    let custom_model = cpu
        .and_then(|c| c.child("model"))
        .map(|m| m.text())
        .filter(|m| !m.is_empty());
    // The model and its features (qemuBuildCpuModelArgStr).
    let mut model = String::new();
    if cpu.is_some() && (mode != "custom" || custom_model.is_some()) {
        let c = cpu.unwrap_or(&cx.root);
        match mode {
            "host-passthrough" | "maximum" | "host-model" => {
                model.push_str(if mode == "maximum" || (!kvm && mode == "host-model") {
                    "max"
                } else {
                    "host"
                });
                if mode != "host-model" {
                    if let Some(m) = c.attr("migratable") {
                        model.push_str(&format!(",migratable={}", m));
                    }
                }
            }
            _ => model.push_str(custom_model.as_deref().unwrap_or("")),
        }
        if let Some(v) = c.child("model").and_then(|m| m.attr("vendor_id")) {
            model.push_str(&format!(",vendor={}", v));
        }
        for f in c.children_named("feature") {
            let Some(name) = f.attr("name") else { continue };
            let name = if x86 { qemu_feature(name) } else { name };
            match f.attr("policy").unwrap_or("require") {
                "require" | "force" => model.push_str(&format!(",{}=on", name)),
                "disable" | "forbid" => model.push_str(&format!(",{}=off", name)),
                _ => {}
            }
        }
    } else if arch == "i686"
        && cx
            .def
            .devices
            .emulator
            .as_deref()
            .is_some_and(|e| e.contains("x86_64") || e.contains("kvm"))
    {
        model.push_str("qemu32");
    }
    // Paravirtual and hypervisor flags.
    let mut flags = String::new();
    if let Some(clock) = cx.root.child("clock") {
        for t in clock.children_named("timer") {
            match t.attr("name") {
                Some("kvmclock") => {
                    if let Some(p) = t.attr("present") {
                        flags.push_str(&format!(
                            ",kvmclock={}",
                            if p == "yes" { "on" } else { "off" }
                        ));
                    }
                }
                Some("hypervclock") if t.attr("present") == Some("yes") => {
                    flags.push_str(",hv-time=on")
                }
                Some("tsc") => {
                    if let Some(f) = t.attr("frequency").filter(|f| *f != "0") {
                        flags.push_str(&format!(",tsc-frequency={}", f));
                    }
                }
                Some("armvtimer") => match t.attr("tickpolicy") {
                    Some("delay") => flags.push_str(",kvm-no-adjvtime=off"),
                    Some("discard") => flags.push_str(",kvm-no-adjvtime=on"),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    if let Some(eoi) = cx.feature("apic").and_then(|f| f.attr("eoi")) {
        flags.push_str(&format!(",kvm-pv-eoi={}", eoi));
    }
    if let Some(p) = cx.feature("pvspinlock") {
        flags.push_str(&format!(
            ",kvm-pv-unhalt={}",
            p.attr("state").unwrap_or("on")
        ));
    }
    if let Some(hv) = cx.feature("hyperv") {
        if hv.attr("mode") == Some("passthrough") {
            flags.push_str(",hv-passthrough=on");
        }
        for &name in oxvirt_xml::domain::features::HYPERV_ORDER {
            let el = hv.child(name);
            if !on(el) {
                continue;
            }
            match name {
                "spinlocks" => {
                    let r = el
                        .and_then(|e| e.attr("retries"))
                        .and_then(|r| r.parse::<u64>().ok())
                        .unwrap_or(0);
                    flags.push_str(&format!(",hv-spinlocks=0x{:x}", r));
                }
                "vendor_id" => flags.push_str(&format!(
                    ",hv-vendor-id={}",
                    el.and_then(|e| e.attr("value")).unwrap_or("")
                )),
                _ => {
                    flags.push_str(&format!(",hv-{}=on", name));
                    if name == "stimer" && on(el.and_then(|e| e.child("direct"))) {
                        flags.push_str(",hv-stimer-direct=on");
                    }
                }
            }
        }
    }
    if cx
        .devices("panic")
        .iter()
        .any(|p| p.attr("model") == Some("hyperv"))
    {
        flags.push_str(",hv-crash");
    }
    if let Some(k) = cx.feature("kvm") {
        if on(k.child("hidden")) {
            flags.push_str(",kvm=off");
        }
        if on(k.child("hint-dedicated")) {
            flags.push_str(",kvm-hint-dedicated=on");
        }
        if on(k.child("poll-control")) {
            flags.push_str(",kvm-poll-control=on");
        }
        if k.child("pv-ipi").and_then(|e| e.attr("state")) == Some("off") {
            flags.push_str(",kvm-pv-ipi=off");
        }
    }
    if !arch.starts_with("ppc64") {
        if let Some(p) = cx.feature("pmu").and_then(|p| p.attr("state")) {
            flags.push_str(&format!(",pmu={}", p));
        }
    }
    if let Some(cache) = cpu.and_then(|c| c.child("cache")) {
        let (mut host_off, mut l3_off) = (false, false);
        match cache.attr("mode") {
            Some("emulate") => {
                flags.push_str(",l3-cache=on");
                host_off = true;
            }
            Some("passthrough") => {
                flags.push_str(",host-cache-info=on");
                l3_off = true;
            }
            Some("disable") => {
                host_off = true;
                l3_off = true;
            }
            _ => {}
        }
        if host_off && matches!(mode, "host-passthrough" | "maximum") {
            flags.push_str(",host-cache-info=off");
        }
        if l3_off {
            flags.push_str(",l3-cache=off");
        }
    }
    if let Some(addr) = cpu.and_then(|c| c.child("maxphysaddr")) {
        match addr.attr("mode") {
            Some("passthrough") => flags.push_str(",host-phys-bits=on"),
            Some("emulate") => {
                flags.push_str(&format!(",phys-bits={}", addr.attr("bits").unwrap_or("0")))
            }
            _ => {}
        }
    }
    if !flags.is_empty() && model.is_empty() {
        model.push_str(match arch {
            "i686" => "qemu32",
            "x86_64" => "qemu64",
            other => {
                return Err(unsupported(format!(
                    "CPU flags requested but can't determine default CPU for arch {}",
                    other
                )))
            }
        });
    }
    if !model.is_empty() {
        a.push("-cpu", format!("{}{}", model, flags));
    }
    Ok(())
}

/// libvirt's x86 feature names that QEMU spells differently
/// (virQEMUCapsCPUFeaturesX86).
fn qemu_feature(name: &str) -> &str {
    match name {
        "cmp_legacy" => "cmp-legacy",
        "ds_cpl" => "ds-cpl",
        "fxsr_opt" => "fxsr-opt",
        "kvm_pv_eoi" => "kvm-pv-eoi",
        "kvm_pv_unhalt" => "kvm-pv-unhalt",
        "lahf_lm" => "lahf-lm",
        "nodeid_msr" => "nodeid-msr",
        "pclmuldq" => "pclmulqdq",
        "perfctr_core" => "perfctr-core",
        "perfctr_nb" => "perfctr-nb",
        "tsc_adjust" => "tsc-adjust",
        other => other,
    }
}

/// A memory backend's QOM type (qemuBuildMemoryBackendProps): memfd
/// and file sources, huge pages and shared access need their backends.
/// `-smp` (qemuBuildSmpCommandLine).
pub fn smp(cx: &Ctx, a: &mut Args) -> Result<()> {
    let max = cx.def.vcpu.max.max(1);
    let cur = cx.def.vcpu.current.clamp(1, max);
    let mut s = format!("{}", cur);
    if cur != max {
        s.push_str(&format!(",maxcpus={}", max));
    }
    match cx.root.child("cpu").and_then(|c| c.child("topology")) {
        Some(t) => {
            let n = |k: &str, d: u64| t.attr(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(d);
            s.push_str(&format!(
                ",sockets={},dies={},cores={},threads={}",
                n("sockets", 1),
                n("dies", 1),
                n("cores", 1),
                n("threads", 1)
            ));
        }
        None => s.push_str(&format!(",sockets={},cores=1,threads=1", max)),
    }
    a.push("-smp", s);
    Ok(())
}

/// `-object iothread` for each `<iothreadids>` entry.
pub fn iothreads(cx: &Ctx, a: &mut Args) {
    let pool = |p: &mut Props, t: &Element| {
        for (k, x) in [
            ("thread_pool_min", "thread-pool-min"),
            ("thread_pool_max", "thread-pool-max"),
        ] {
            if let Some(v) = t.attr(k).and_then(|v| v.parse::<i64>().ok()) {
                p.set(x, v);
            }
        }
    };
    match cx.root.child("iothreadids") {
        Some(ids) => {
            for t in ids.children_named("iothread") {
                let mut p = Props::new();
                p.s("qom-type", "iothread")
                    .s("id", &format!("iothread{}", num(t, "id")));
                pool(&mut p, t);
                a.object(&p);
            }
        }
        None => {
            let n = cx
                .root
                .child("iothreads")
                .and_then(|e| e.text().trim().parse::<u64>().ok())
                .unwrap_or(0);
            for id in 1..=n {
                let mut p = Props::new();
                p.s("qom-type", "iothread")
                    .s("id", &format!("iothread{}", id));
                a.object(&p);
            }
        }
    }
    if let Some(d) = cx.root.child("defaultiothread") {
        let mut p = Props::new();
        p.s("qom-type", "main-loop").s("id", "main-loop");
        pool(&mut p, d);
        a.object(&p);
    }
}

/// `seconds` since the epoch as `YYYY-MM-DDTHH:MM:SS` (UTC).
fn utc_time(seconds: i64) -> String {
    oxvirt_core::types::format_utc(seconds, 'T')
}

/// `-uuid`.
pub fn uuid(cx: &Ctx, a: &mut Args) {
    a.push("-uuid", cx.def.uuid.to_string());
}

/// `-rtc`, the PIT's tick policy and HPET (qemuBuildClockCommandLine).
pub fn clock(cx: &Ctx, a: &mut Args) {
    let clock = cx.root.child("clock");
    let offset = clock.and_then(|c| c.attr("offset")).unwrap_or("utc");
    let mut rtc = match offset {
        "localtime" | "timezone" => "base=localtime".to_string(),
        "absolute" => {
            let start = clock
                .and_then(|c| c.attr("start"))
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            format!("base={}", utc_time(start))
        }
        "variable" => {
            let adj = clock
                .and_then(|c| c.attr("adjustment"))
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            format!("base={}", utc_time(now + adj))
        }
        _ => "base=utc".to_string(),
    };
    let timers: Vec<&Element> = clock
        .map(|c| c.children_named("timer").collect())
        .unwrap_or_default();
    if let Some(t) = timers.iter().find(|t| t.attr("name") == Some("rtc")) {
        match t.attr("track") {
            Some("guest") => rtc.push_str(",clock=vm"),
            Some("wall") => rtc.push_str(",clock=host"),
            Some("realtime") => rtc.push_str(",clock=rt"),
            _ => {}
        }
        if t.attr("tickpolicy") == Some("catchup") {
            rtc.push_str(",driftfix=slew");
        }
    }
    a.push("-rtc", rtc);
    for t in &timers {
        match t.attr("name") {
            Some("pit") => match t.attr("tickpolicy") {
                None | Some("delay") => a.push("-global", "kvm-pit.lost_tick_policy=delay"),
                Some("discard") => a.push("-global", "kvm-pit.lost_tick_policy=discard"),
                _ => {}
            },
            Some("hpet") if t.attr("present") == Some("no") => a.flag("-no-hpet"),
            _ => {}
        }
    }
}

/// `-no-acpi` and the S3/S4 globals (qemuBuildPMCommandLine).
pub fn pm(cx: &Ctx, a: &mut Args) {
    let acpi = cx
        .feature("acpi")
        .is_some_and(|f| f.attr("state") != Some("off"));
    if !acpi {
        a.flag("-no-acpi");
    }
    let obj = if cx.is_q35() { "ICH9-LPC" } else { "PIIX4_PM" };
    if let Some(pm) = cx.root.child("pm") {
        for (el, key) in [
            ("suspend-to-mem", "disable_s3"),
            ("suspend-to-disk", "disable_s4"),
        ] {
            if let Some(e) = pm.child(el).and_then(|e| e.attr("enabled")) {
                a.push(
                    "-global",
                    format!("{}.{}={}", obj, key, if e == "no" { 1 } else { 0 }),
                );
            }
        }
    }
}

/// `-boot` and direct kernel boot (qemuBuildBootCommandLine).
pub fn boot(cx: &Ctx, a: &mut Args) {
    let os = cx.root.child("os");
    let mut s = String::new();
    if let Some(m) = os.and_then(|o| o.child("bootmenu")) {
        match m.attr("enable") {
            Some("yes") => s.push_str("menu=on,"),
            Some("no") => s.push_str("menu=off,"),
            _ => {}
        }
        if let Some(t) = m.attr("timeout") {
            s.push_str(&format!("splash-time={},", t));
        }
    }
    if let Some(t) = os
        .and_then(|o| o.child("bios"))
        .and_then(|b| b.attr("rebootTimeout"))
    {
        s.push_str(&format!("reboot-timeout={},", t));
    }
    s.push_str("strict=on");
    a.push("-boot", s);
    let os = &cx.def.os;
    if let Some(k) = &os.kernel {
        a.push("-kernel", k.clone());
    }
    if let Some(i) = &os.initrd {
        a.push("-initrd", i.clone());
    }
    if let Some(c) = &os.cmdline {
        a.push("-append", c.clone());
    }
    if let Some(d) = &os.dtb {
        a.push("-dtb", d.clone());
    }
}
