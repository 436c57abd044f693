//! The capabilities document of the fake host (testBuildCapabilities).

use oxvirt_xml::writer::{Attrs, Writer};

use crate::state::State;

/// Whether the real host has an IOMMU (the one probed line of libvirt's
/// test-driver capabilities).
fn host_iommu() -> bool {
    std::fs::read_dir("/sys/kernel/iommu_groups")
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

pub(crate) fn format(st: &State) -> String {
    const PAGES: [u64; 4] = [4, 8, 2048, 1024 * 1024];
    let mut w = Writer::new();
    w.block("capabilities", Attrs::new(), |w| {
        w.push_raw("\n");
        w.block("host", Attrs::new(), |w| {
            w.block("cpu", Attrs::new(), |w| {
                w.text("arch", Attrs::new(), "i686");
                w.block("features", Attrs::new(), |w| {
                    w.empty("pae", Attrs::new());
                    w.empty("nonpae", Attrs::new());
                });
                for p in PAGES {
                    w.empty("pages", Attrs::new().add("unit", "KiB").add("size", p));
                }
            });
            w.empty("power_management", Attrs::new());
            w.empty(
                "iommu",
                Attrs::new().add("support", if host_iommu() { "yes" } else { "no" }),
            );
            if !st.cells.is_empty() {
                w.block("topology", Attrs::new(), |w| {
                    w.block("cells", Attrs::new().add("num", st.cells.len()), |w| {
                        let mut cpu_id = 0u32;
                        for (i, c) in st.cells.iter().enumerate() {
                            w.block("cell", Attrs::new().add("id", i), |w| {
                                w.text("memory", Attrs::new().add("unit", "KiB"), c.mem);
                                let first = if i == 1 { PAGES[1] } else { PAGES[0] };
                                w.text(
                                    "pages",
                                    Attrs::new().add("unit", "KiB").add("size", first),
                                    c.mem / first,
                                );
                                for p in &PAGES[2..] {
                                    w.text(
                                        "pages",
                                        Attrs::new().add("unit", "KiB").add("size", p),
                                        0,
                                    );
                                }
                                w.block("cpus", Attrs::new().add("num", c.cpus), |w| {
                                    for core in 0..c.cpus {
                                        w.empty(
                                            "cpu",
                                            Attrs::new()
                                                .add("id", cpu_id)
                                                .add("socket_id", i)
                                                .add("die_id", 0)
                                                .add("core_id", core)
                                                .add("siblings", cpu_id),
                                        );
                                        cpu_id += 1;
                                    }
                                });
                            });
                        }
                    });
                });
            }
            w.block("secmodel", Attrs::new(), |w| {
                w.text("model", Attrs::new(), "testSecurity");
                w.text("doi", Attrs::new(), "");
            });
        });
        for os in ["hvm", "xen"] {
            w.push_raw("\n");
            w.block("guest", Attrs::new(), |w| {
                w.text("os_type", Attrs::new(), os);
                w.block("arch", Attrs::new().add("name", "i686"), |w| {
                    w.text("wordsize", Attrs::new(), 32);
                    w.text("emulator", Attrs::new(), "/usr/bin/test-hv");
                    w.empty("domain", Attrs::new().add("type", "test"));
                });
                w.block("features", Attrs::new(), |w| {
                    w.empty("pae", Attrs::new());
                    w.empty("nonpae", Attrs::new());
                });
            });
        }
        w.push_raw("\n");
    });
    w.into_string()
}
