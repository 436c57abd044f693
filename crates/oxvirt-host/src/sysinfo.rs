//! The host's SMBIOS as libvirt reports it (virConnectGetSysinfo of the
//! hypervisor drivers): on x86, libvirt runs `dmidecode -q -t
//! 0,1,2,3,4,11,17` and reads its sections (BIOS, system, base boards,
//! chassis, processors, memory devices, OEM strings) into
//! `<sysinfo type='smbios'>`. We do the same, so the document is libvirt's
//! on every host, byte for byte, whatever dmidecode's version prints; the
//! reading follows libvirt's rules (each value is the rest of the first
//! line after its key from the section's start on, trailing blanks
//! trimmed; empty values and sections left out).
//!
//! When dmidecode fails (no SMBIOS: no /sys/firmware/dmi/tables and no
//! /dev/mem, as in many VMs) there is no host sysinfo: the drivers answer
//! libvirt's "Host SMBIOS information is not available".

use oxvirt_core::error::{code, from};
use oxvirt_core::{Error, Result};

use crate::command::Command;

/// dmidecode's types libvirt reads: BIOS, system, base board, chassis,
/// processor, OEM strings, memory device.
const TYPES: &str = "0,1,2,3,4,11,17";

/// One part of the document: the element and its named entries.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    tag: &'static str,
    entries: Vec<(&'static str, String)>,
}

/// The host's sysinfo (libvirt's virSysinfoDef of type smbios).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sysinfo {
    sections: Vec<Section>,
    /// OEM strings (type 11), `None` when dmidecode reported none.
    oem: Option<Vec<String>>,
}

/// Reads the host's sysinfo through dmidecode (virSysinfoRead on x86);
/// `None` when there is none (dmidecode missing or failing).
pub fn read() -> Option<Sysinfo> {
    let out = Command::new("dmidecode", from::NONE)
        .args(["-q", "-t", TYPES])
        .run()
        .ok()?;
    parse(&out.stdout, &|i| {
        // A string dmidecode shows with dots may hold newlines: ask for
        // it alone (raw), as libvirt does.
        let o = Command::new("dmidecode", from::NONE)
            .args(["--dump", "--oem-string", &i.to_string()])
            .run()
            .ok()?;
        o.stderr.is_empty().then_some(o.stdout)
    })
    .ok()
}

/// The rest of the line after the first `key` in `text`, trailing blanks
/// trimmed; `None` without the key, without an end of line, or when
/// nothing is left.
fn value(text: &str, key: &str) -> Option<String> {
    let at = text.find(key)? + key.len();
    let rest = &text[at..];
    let line = &rest[..rest.find('\n')?];
    let v = line.trim_end();
    (!v.is_empty()).then(|| v.to_string())
}

/// The entries of `fields` (dmidecode key, libvirt name) found from the
/// start of `text`.
fn entries(text: &str, fields: &[(&str, &'static str)]) -> Vec<(&'static str, String)> {
    fields
        .iter()
        .filter_map(|(key, name)| value(text, key).map(|v| (*name, v)))
        .collect()
}

const BIOS: &[(&str, &str)] = &[
    ("Vendor: ", "vendor"),
    ("Version: ", "version"),
    ("Release Date: ", "date"),
    ("BIOS Revision: ", "release"),
];

const SYSTEM: &[(&str, &str)] = &[
    ("Manufacturer: ", "manufacturer"),
    ("Product Name: ", "product"),
    ("Version: ", "version"),
    ("Serial Number: ", "serial"),
    ("UUID: ", "uuid"),
    ("SKU Number: ", "sku"),
    ("Family: ", "family"),
];

const BASE_BOARD: &[(&str, &str)] = &[
    ("Manufacturer: ", "manufacturer"),
    ("Product Name: ", "product"),
    ("Version: ", "version"),
    ("Serial Number: ", "serial"),
    ("Asset Tag: ", "asset"),
    ("Location In Chassis: ", "location"),
];

const CHASSIS: &[(&str, &str)] = &[
    ("Manufacturer: ", "manufacturer"),
    ("Version: ", "version"),
    ("Serial Number: ", "serial"),
    ("Asset Tag: ", "asset"),
    ("SKU Number: ", "sku"),
];

const PROCESSOR: &[(&str, &str)] = &[
    ("Socket Designation: ", "socket_destination"),
    ("Type: ", "type"),
    ("Family: ", "family"),
    ("Manufacturer: ", "manufacturer"),
    ("Signature: ", "signature"),
    ("Version: ", "version"),
    ("External Clock: ", "external_clock"),
    ("Max Speed: ", "max_speed"),
    ("Status: ", "status"),
    ("Serial Number: ", "serial_number"),
    ("Part Number: ", "part_number"),
];

const MEMORY: &[(&str, &str)] = &[
    ("Size: ", "size"),
    ("Form Factor: ", "form_factor"),
    ("Locator: ", "locator"),
    ("Bank Locator: ", "bank_locator"),
    ("Type: ", "type"),
    ("Type Detail: ", "type_detail"),
    ("Speed: ", "speed"),
    ("Manufacturer: ", "manufacturer"),
    ("Serial Number: ", "serial_number"),
    ("Part Number: ", "part_number"),
];

/// The section headed `title` (its first one), if it has any entry.
fn one(out: &str, title: &str, tag: &'static str, fields: &[(&str, &'static str)]) -> Vec<Section> {
    let Some(i) = out.find(title) else {
        return Vec::new();
    };
    let entries = entries(&out[i..], fields);
    if entries.is_empty() {
        return Vec::new();
    }
    vec![Section { tag, entries }]
}

/// Every section headed `title` that has an entry; `skip` leaves a
/// section out from what its start says.
fn each(
    out: &str,
    title: &str,
    tag: &'static str,
    fields: &[(&str, &'static str)],
    skip: impl Fn(&str) -> bool,
) -> Vec<Section> {
    let mut v = Vec::new();
    let mut base = out;
    while let Some(i) = base.find(title) {
        base = &base[i..];
        if !skip(base) {
            let entries = entries(base, fields);
            if !entries.is_empty() {
                v.push(Section { tag, entries });
            }
        }
        base = &base[title.len()..];
    }
    v
}

/// libvirt's reading of the OEM strings: "String N: value" lines; a value
/// with a dot is asked for raw through `raw(N)` (N counts the values
/// kept).
fn oem_strings(out: &str, raw: &dyn Fn(usize) -> Option<String>) -> Result<Option<Vec<String>>> {
    let Some(start) = out.find("OEM Strings") else {
        return Ok(None);
    };
    let malformed = || Error::internal(from::NONE, "Malformed output of dmidecode");
    let mut values = Vec::new();
    let mut cur = &out[start..];
    while let Some(i) = cur.find("String ") {
        cur = &cur[i + "String ".len()..];
        let eol = cur.find('\n').ok_or_else(malformed)?;
        let digits = cur.bytes().take_while(u8::is_ascii_digit).count();
        if cur.as_bytes().get(digits) != Some(&b':') {
            return Err(malformed());
        }
        let from_at = (digits + 2).min(eol);
        let v = cur[from_at..eol].trim_end();
        cur = &cur[eol..];
        if v.is_empty() {
            continue;
        }
        let n = values.len() + 1;
        if v.contains('.') {
            values.push(raw(n).ok_or_else(malformed)?);
        } else {
            values.push(v.to_string());
        }
    }
    Ok(Some(values))
}

/// Reads dmidecode's output as libvirt's virSysinfoReadDMI does.
pub fn parse(out: &str, raw_oem: &dyn Fn(usize) -> Option<String>) -> Result<Sysinfo> {
    let mut sections = one(out, "BIOS Information", "bios", BIOS);
    sections.extend(one(out, "System Information", "system", SYSTEM));
    sections.extend(each(
        out,
        "Base Board Information",
        "baseBoard",
        BASE_BOARD,
        |_| false,
    ));
    sections.extend(one(out, "Chassis Information", "chassis", CHASSIS));
    let oem = oem_strings(out, raw_oem)?;
    sections.extend(each(
        out,
        "Processor Information",
        "processor",
        PROCESSOR,
        |_| false,
    ));
    // A slot without a module is left out.
    sections.extend(each(out, "Memory Device", "memory_device", MEMORY, |s| {
        s.find("Size: ").is_some_and(|i| {
            let v = &s[i + "Size: ".len()..];
            v.split('\n').next() == Some("No Module Installed")
        })
    }));
    Ok(Sysinfo { sections, oem })
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '\'' => o.push_str("&apos;"),
            '"' => o.push_str("&quot;"),
            c => o.push(c),
        }
    }
    o
}

impl Sysinfo {
    /// libvirt's `<sysinfo type='smbios'>` (virSysinfoFormat): BIOS,
    /// system, base boards, chassis, processors, memory devices, OEM
    /// strings.
    pub fn format(&self) -> String {
        let mut body = String::new();
        let order = [
            "bios",
            "system",
            "baseBoard",
            "chassis",
            "processor",
            "memory_device",
        ];
        for tag in order {
            for s in self.sections.iter().filter(|s| s.tag == tag) {
                body.push_str(&format!("  <{}>\n", s.tag));
                for (name, v) in &s.entries {
                    body.push_str(&format!(
                        "    <entry name='{}'>{}</entry>\n",
                        name,
                        escape(v)
                    ));
                }
                body.push_str(&format!("  </{}>\n", s.tag));
            }
        }
        if let Some(oem) = &self.oem {
            body.push_str("  <oemStrings>\n");
            for v in oem {
                body.push_str(&format!("    <entry>{}</entry>\n", escape(v)));
            }
            body.push_str("  </oemStrings>\n");
        }
        if body.is_empty() {
            return "<sysinfo type='smbios'/>\n".to_string();
        }
        format!("<sysinfo type='smbios'>\n{}</sysinfo>\n", body)
    }
}

/// The error of a hypervisor driver without host sysinfo (in its error
/// domain `from`).
pub fn unavailable(from: i32) -> Error {
    Error::new(
        code::CONFIG_UNSUPPORTED,
        from,
        "Host SMBIOS information is not available",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dmidecode 3.4's layout for a small machine.
    const OUT: &str = "\
BIOS Information
\tVendor: Example BIOS Co.
\tVersion: 1.2.3 
\tRelease Date: 04/01/2014
\tROM Size: 64 kB
\tCharacteristics:
\t\tBIOS characteristics not supported
\tBIOS Revision: 0.0

System Information
\tManufacturer: Example & Sons
\tProduct Name: Box <1>
\tVersion: pc-q35-7.2
\tSerial Number: Not Specified
\tUUID: 4cd00c81-4a85-11cb-88ec-a5a7a8f13986
\tWake-up Type: Power Switch
\tSKU Number: Not Specified
\tFamily: Not Specified

Base Board Information
\tManufacturer: Example
\tProduct Name: Board A
\tVersion: 
\tSerial Number: 123
\tAsset Tag: Not Specified
\tFeatures:
\t\tBoard is a hosting board
\tLocation In Chassis: Slot 1
\tChassis Handle: 0x0300

Chassis Information
\tManufacturer: Example
\tType: Other
\tLock: Not Present
\tVersion: pc-q35-7.2
\tSerial Number: Not Specified
\tAsset Tag: Not Specified
\tSKU Number: Not Specified

Processor Information
\tSocket Designation: CPU 0
\tType: Central Processor
\tFamily: Other
\tManufacturer: QEMU
\tID: 42 0F 10 00 FF FB 8B 07
\tSignature: Family 26, Model 2, Stepping 1
\tVersion: pc-q35-7.2
\tVoltage: Unknown
\tExternal Clock: Unknown
\tMax Speed: 2000 MHz
\tCurrent Speed: 2000 MHz
\tStatus: Populated, Enabled
\tSerial Number: Not Specified
\tAsset Tag: Not Specified
\tPart Number: Not Specified

OEM Strings
\tString 1: first
\tString 2: second value

Memory Device
\tTotal Width: Unknown
\tSize: 2 GB
\tForm Factor: DIMM
\tLocator: DIMM 0
\tBank Locator: Not Specified
\tType: RAM
\tType Detail: Other
\tSpeed: Unknown
\tManufacturer: QEMU
\tSerial Number: Not Specified
\tPart Number: Not Specified

Memory Device
\tSize: No Module Installed
\tForm Factor: DIMM
\tLocator: DIMM 1
";

    #[test]
    fn reads_dmidecode_as_libvirt_does() {
        let s = parse(OUT, &|_| None).expect("parses");
        let want = "\
<sysinfo type='smbios'>
  <bios>
    <entry name='vendor'>Example BIOS Co.</entry>
    <entry name='version'>1.2.3</entry>
    <entry name='date'>04/01/2014</entry>
    <entry name='release'>0.0</entry>
  </bios>
  <system>
    <entry name='manufacturer'>Example &amp; Sons</entry>
    <entry name='product'>Box &lt;1&gt;</entry>
    <entry name='version'>pc-q35-7.2</entry>
    <entry name='serial'>Not Specified</entry>
    <entry name='uuid'>4cd00c81-4a85-11cb-88ec-a5a7a8f13986</entry>
    <entry name='sku'>Not Specified</entry>
    <entry name='family'>Not Specified</entry>
  </system>
  <baseBoard>
    <entry name='manufacturer'>Example</entry>
    <entry name='product'>Board A</entry>
    <entry name='serial'>123</entry>
    <entry name='asset'>Not Specified</entry>
    <entry name='location'>Slot 1</entry>
  </baseBoard>
  <chassis>
    <entry name='manufacturer'>Example</entry>
    <entry name='version'>pc-q35-7.2</entry>
    <entry name='serial'>Not Specified</entry>
    <entry name='asset'>Not Specified</entry>
    <entry name='sku'>Not Specified</entry>
  </chassis>
  <processor>
    <entry name='socket_destination'>CPU 0</entry>
    <entry name='type'>Central Processor</entry>
    <entry name='family'>Other</entry>
    <entry name='manufacturer'>QEMU</entry>
    <entry name='signature'>Family 26, Model 2, Stepping 1</entry>
    <entry name='version'>pc-q35-7.2</entry>
    <entry name='external_clock'>Unknown</entry>
    <entry name='max_speed'>2000 MHz</entry>
    <entry name='status'>Populated, Enabled</entry>
    <entry name='serial_number'>Not Specified</entry>
    <entry name='part_number'>Not Specified</entry>
  </processor>
  <memory_device>
    <entry name='size'>2 GB</entry>
    <entry name='form_factor'>DIMM</entry>
    <entry name='locator'>DIMM 0</entry>
    <entry name='bank_locator'>Not Specified</entry>
    <entry name='type'>RAM</entry>
    <entry name='type_detail'>Other</entry>
    <entry name='speed'>Unknown</entry>
    <entry name='manufacturer'>QEMU</entry>
    <entry name='serial_number'>Not Specified</entry>
    <entry name='part_number'>Not Specified</entry>
  </memory_device>
  <oemStrings>
    <entry>first</entry>
    <entry>second value</entry>
  </oemStrings>
</sysinfo>
";
        assert_eq!(s.format(), want);
    }

    #[test]
    fn oem_strings_with_dots_are_read_raw_and_bad_ones_refused() {
        let out = "OEM Strings\n\tString 1: a.b\n\tString 2: c\n";
        let s = parse(out, &|i| (i == 1).then(|| "a\nb\n".to_string())).expect("parses");
        assert_eq!(
            s.format(),
            "<sysinfo type='smbios'>\n  <oemStrings>\n    <entry>a\nb\n</entry>\n    \
             <entry>c</entry>\n  </oemStrings>\n</sysinfo>\n"
        );
        let e = parse("OEM Strings\n\tString x: c\n", &|_| None).unwrap_err();
        assert_eq!(e.message, "internal error: Malformed output of dmidecode");
    }

    #[test]
    fn nothing_read_is_an_empty_element() {
        assert_eq!(
            parse("", &|_| None).expect("parses").format(),
            "<sysinfo type='smbios'/>\n"
        );
    }
}
