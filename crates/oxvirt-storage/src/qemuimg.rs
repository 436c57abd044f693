//! qemu-img command lines, as libvirt builds them
//! (virStorageBackendCreateQemuImgCmdFromVol and friends): create,
//! convert (clone with conversion), the two-step create-then-convert for
//! encrypted targets, and resize. Keys never appear on a command line:
//! they go through `--object secret,file=...` pointing at a 0600 file in
//! the driver's run directory, removed right after.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use oxvirt_core::error::code;
use oxvirt_core::{Error, Result};
use oxvirt_host::Command;
use oxvirt_xml::storage::{Encryption, SecretLookup, Volume};
use zeroize::Zeroizing;

use crate::objects::FROM;
use crate::Ctx;

/// Which step of an encrypted conversion a command is
/// (virStorageVolEncryptConvertStep).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    None,
    Create,
    Convert,
}

/// virQEMUBuildBufferEscapeComma
pub fn escape_comma(s: &str) -> String {
    s.replace(',', ",,")
}

fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(code::CONFIG_UNSUPPORTED, FROM, msg)
}

fn encryption_opts(format: &str, enc: &Encryption, alias: &str) -> String {
    let mut b = String::new();
    let prefix = if format == "qcow2" {
        b.push_str("encrypt.format=luks,");
        "encrypt."
    } else {
        ""
    };
    b.push_str(&format!("{}key-secret={},", prefix, alias));
    let Some((name, size, mode, hash)) = &enc.cipher else {
        return b;
    };
    b.push_str(&format!(
        "{}cipher-alg={}-{},",
        prefix,
        escape_comma(name),
        size
    ));
    if let Some(m) = mode {
        b.push_str(&format!("{}cipher-mode={},", prefix, escape_comma(m)));
    }
    if let Some(h) = hash {
        b.push_str(&format!("{}hash-alg={},", prefix, escape_comma(h)));
    }
    let Some((name, hash)) = &enc.ivgen else {
        return b;
    };
    b.push_str(&format!("{}ivgen-alg={},", prefix, escape_comma(name)));
    if let Some(h) = hash {
        b.push_str(&format!("{}ivgen-hash-alg={},", prefix, escape_comma(h)));
    }
    b
}

fn check_encryption(format: &str, kind: &str, vol: &Volume) -> Result<()> {
    let Some(enc) = &vol.target.encryption else {
        return Ok(());
    };
    if format == "raw" || format == "qcow2" {
        if enc.format != "luks" {
            return Err(unsupported(format!(
                "unsupported volume encryption format {}",
                encryption_format_number(&enc.format)
            )));
        }
        if enc.secrets.len() > 1 {
            return Err(Error::new(
                code::XML_ERROR,
                FROM,
                "too many secrets for luks encryption",
            ));
        }
        if enc.secrets.is_empty() {
            return Err(Error::new(
                code::XML_ERROR,
                FROM,
                "no secret provided for luks encryption",
            ));
        }
        Ok(())
    } else {
        Err(unsupported(format!(
            "volume encryption unsupported with format {}",
            kind
        )))
    }
}

fn encryption_format_number(f: &str) -> i32 {
    match f {
        "default" => 0,
        "qcow" => 1,
        "luks" => 2,
        "luks2" => 3,
        _ => -1,
    }
}

/// A key written for qemu-img: the file is removed when this is dropped.
pub struct SecretFile(pub PathBuf);

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// storageBackendCreateQemuImgSecretPath: the volume's key (from its
/// `<encryption><secret>`) in a fresh 0600 file under the run directory.
pub fn secret_file(ctx: &Ctx, pool: &str, vol: &Volume) -> Result<SecretFile> {
    let Some(enc) = &vol.target.encryption else {
        return Err(Error::internal(FROM, "missing encryption description"));
    };
    if enc.secrets.len() != 1 {
        return Err(Error::invalid_arg(
            FROM,
            "A single <secret type='passphrase'...> element is expected in encryption description",
        ));
    }
    let Some(secrets) = &ctx.secrets else {
        return Err(Error::internal(FROM, "secret driver is not active"));
    };
    let lookup = match &enc.secrets[0] {
        SecretLookup::Uuid(u) => oxvirt_secret::Lookup::Uuid(*u),
        SecretLookup::Usage(u) => oxvirt_secret::Lookup::Usage(u.clone()),
    };
    let value: Zeroizing<Vec<u8>> =
        secrets.secret_value_internal(&lookup, oxvirt_xml::secret::usage_type::VOLUME)?;
    std::fs::create_dir_all(&ctx.state_dir).ok();
    for _ in 0..16 {
        let mut rnd = [0u8; 6];
        let _ = getrandom::getrandom(&mut rnd);
        let suffix: String = rnd
            .iter()
            .map(|b| {
                let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                c[(*b as usize) % c.len()] as char
            })
            .collect();
        let p = ctx
            .state_dir
            .join(format!("{}.{}.secret.{}", pool, vol.name, suffix));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&p)
        {
            Ok(mut f) => {
                let guard = SecretFile(p);
                f.write_all(&value)
                    .map_err(|e| Error::system(FROM, "failed to write secret file", &e))?;
                return Ok(guard);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::system(
                    FROM,
                    "failed to open secret file for write",
                    &e,
                ))
            }
        }
    }
    Err(Error::internal(
        FROM,
        "failed to open secret file for write",
    ))
}

/// The information libvirt gathers before building the command
/// (virStorageBackendCreateQemuImgSetInfo).
struct Info {
    kind: String,
    input_path: Option<String>,
    input_type: Option<String>,
    input_format: String,
    backing_path: Option<String>,
    backing_format: Option<String>,
    size_kib: u64,
    alloc_kib: u64,
    preallocate: bool,
}

fn input_format_of(v: &Volume) -> String {
    let f = v.target.format.clone().unwrap_or_else(|| "raw".into());
    if v.kind == oxvirt_xml::storage::VolType::Block || f == "iso" || f == "none" {
        "raw".into()
    } else {
        f
    }
}

/// Builds the qemu-img command for `vol` (from `input` when cloning) in
/// the pool whose target is `pool_target`, written to `out_path` (the
/// volume's path, or where it is being built).
#[allow(clippy::too_many_arguments)]
pub fn command(
    pool_target: &str,
    vol: &Volume,
    out_path: &str,
    input: Option<&Volume>,
    prealloc_metadata: bool,
    secret: Option<&Path>,
    input_secret: Option<&Path>,
    step: Step,
) -> Result<Command> {
    let mut format = vol.target.format.clone().unwrap_or_else(|| "raw".into());
    if format == "none" {
        format = "raw".into();
    }
    let enc = vol.target.encryption.as_ref();
    let input_enc = input.and_then(|i| i.target.encryption.as_ref());
    if let Some(e) = enc {
        if (e.format == "qcow" || e.format == "default") && (format == "qcow" || format == "qcow2")
        {
            return Err(unsupported(
                "creation of qcow2 encrypted image is not supported",
            ));
        }
    }
    if let Some(e) = input_enc {
        if e.format != "luks" {
            return Err(unsupported("encryption format of inputvol must be LUKS"));
        }
    }
    if vol.kind == oxvirt_xml::storage::VolType::Block || format == "iso" {
        format = "raw".into();
    }
    let mut kind = format.clone();
    let mut input_type = input.map(|i| i.target.format.clone().unwrap_or_else(|| "raw".into()));
    if prealloc_metadata && format != "qcow2" {
        return Err(unsupported(
            "metadata preallocation only available with qcow2",
        ));
    }
    if vol.target.compat.is_some() && format != "qcow2" {
        return Err(unsupported(
            "compatibility option only available with qcow2",
        ));
    }
    if vol.target.features.is_some() && format != "qcow2" {
        return Err(unsupported("format features only available with qcow2"));
    }
    if format == "raw" {
        if let Some(e) = enc {
            if e.format == "luks" {
                kind = "luks".into();
            } else {
                return Err(Error::internal(
                    FROM,
                    "Only luks encryption is supported for raw files",
                ));
            }
        }
    }
    if let Some(i) = input {
        if i.target.format.as_deref() == Some("raw") {
            if let Some(e) = &i.target.encryption {
                if e.format == "luks" {
                    input_type = Some("luks".into());
                } else {
                    return Err(Error::internal(
                        FROM,
                        "Only luks encryption is supported for raw files",
                    ));
                }
            }
        }
    }
    let mut info = Info {
        kind: kind.clone(),
        input_path: None,
        input_type,
        input_format: String::new(),
        backing_path: None,
        backing_format: None,
        size_kib: vol.capacity.div_ceil(1024),
        alloc_kib: vol.allocation.div_ceil(1024),
        preallocate: prealloc_metadata,
    };
    if let Some(i) = input {
        if step != Step::Create {
            info.input_path = Some(
                i.target
                    .path
                    .clone()
                    .ok_or_else(|| Error::invalid_arg(FROM, "missing input volume target path"))?,
            );
        }
        info.input_format = input_format_of(i);
    }
    if let Some(b) = &vol.backing {
        if format == "raw" {
            return Err(unsupported("cannot set backing store for raw volume"));
        }
        info.backing_path = b.path.clone();
        info.backing_format = b.format.clone();
        if info.preallocate {
            return Err(unsupported(
                "metadata preallocation conflicts with backing store",
            ));
        }
        if let Some(ib) = input.and_then(|i| i.backing.as_ref()) {
            if ib.path != info.backing_path {
                return Err(Error::internal(
                    FROM,
                    "a different backing store cannot be specified.",
                ));
            }
        }
        let bp = info.backing_path.clone().unwrap_or_default();
        let abs = if bp.starts_with('/') {
            bp.clone()
        } else {
            format!("{}/{}", pool_target, bp)
        };
        let c = std::ffi::CString::new(abs).unwrap_or_default();
        if unsafe { libc::access(c.as_ptr(), libc::R_OK) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(Error::system(
                FROM,
                format!("inaccessible backing store volume {}", bp),
                &e,
            ));
        }
    }
    if enc.is_some() {
        check_encryption(&format, &info.kind, vol)?;
    }

    let mut cmd = Command::new(crate::tool("qemu-img"), FROM);
    if info.input_path.is_some() || step == Step::Create {
        info.backing_path = None;
    }
    match (&info.input_path, step) {
        (Some(_), Step::None) => {
            cmd.args(["convert", "-f", &info.input_format, "-O", &info.kind]);
        }
        (Some(_), Step::Convert) => {
            cmd.args(["convert", "--image-opts", "-n", "--target-image-opts"]);
        }
        _ => {
            cmd.args(["create", "-f", &info.kind]);
        }
    }
    if let Some(b) = &info.backing_path {
        cmd.args(["-b", b]);
    }
    let alias = format!("{}_encrypt0", vol.name);
    if enc.is_some() {
        let Some(p) = secret else {
            return Err(Error::internal(
                FROM,
                "path to secret data file is required",
            ));
        };
        cmd.args([
            "--object".to_string(),
            format!(
                "secret,id={},file={}",
                alias,
                escape_comma(&p.to_string_lossy())
            ),
        ]);
    }
    let input_alias = input.map(|i| format!("{}_encrypt0", i.name));
    if input_enc.is_some() && step == Step::Convert {
        let Some(p) = input_secret else {
            return Err(Error::internal(
                FROM,
                "path to inputvol secret data file is required",
            ));
        };
        cmd.args([
            "--object".to_string(),
            format!(
                "secret,id={},file={}",
                input_alias.clone().unwrap_or_default(),
                escape_comma(&p.to_string_lossy())
            ),
        ]);
    }
    if step != Step::Convert {
        let mut opts = String::new();
        if info.backing_path.is_some() {
            opts.push_str(&format!(
                "backing_fmt={},",
                info.backing_format.as_deref().unwrap_or("raw")
            ));
        }
        if let Some(e) = enc {
            opts.push_str(&encryption_opts(&format, e, &alias));
        }
        if info.preallocate {
            if info.size_kib > info.alloc_kib {
                opts.push_str("preallocation=metadata,");
            } else {
                opts.push_str("preallocation=falloc,");
            }
        }
        if vol.target.nocow {
            opts.push_str("nocow=on,");
        }
        match &vol.target.compat {
            Some(c) => opts.push_str(&format!("compat={},", c)),
            None if format == "qcow2" => opts.push_str("compat=0.10,"),
            None => {}
        }
        if vol.target.cluster_size > 0 {
            opts.push_str(&format!("cluster_size={},", vol.target.cluster_size));
        }
        if let (Some(f), true) = (&vol.target.features, format == "qcow2") {
            let compat = vol.target.compat.as_deref();
            if f.iter().any(|x| x == "lazy_refcounts") {
                if compat == Some("0.10") {
                    return Err(unsupported(format!(
                        "lazy_refcounts not supported with compat level {}",
                        compat.unwrap_or("")
                    )));
                }
                opts.push_str("lazy_refcounts,");
            }
            if f.iter().any(|x| x == "extended_l2") {
                if compat == Some("0.10") {
                    return Err(unsupported(format!(
                        "'extended_l2' not supported with compat level {}",
                        compat.unwrap_or("")
                    )));
                }
                opts.push_str("extended_l2=on,");
            }
        }
        let opts = opts.trim_end_matches(',');
        if !opts.is_empty() {
            cmd.args(["-o", opts]);
        }
        if let Some(ip) = &info.input_path {
            cmd.arg(ip.clone());
        }
        cmd.arg(out_path.to_string());
        if info.input_path.is_none() && (info.size_kib > 0 || info.backing_path.is_none()) {
            cmd.arg(format!("{}K", info.size_kib));
        }
    } else {
        let ip = info.input_path.clone().unwrap_or_default();
        let it = info.input_type.clone().unwrap_or_else(|| "raw".into());
        match (input_enc, input) {
            (Some(_), Some(i)) => {
                let p = if i.target.format.as_deref() == Some("qcow2") {
                    "encrypt."
                } else {
                    ""
                };
                cmd.arg(format!(
                    "driver={},file.filename={},{}key-secret={}",
                    it,
                    ip,
                    p,
                    input_alias.unwrap_or_default()
                ));
            }
            _ => {
                cmd.arg(format!("driver={},file.filename={}", it, ip));
            }
        }
        if enc.is_some() {
            let p = if format == "qcow2" { "encrypt." } else { "" };
            cmd.arg(format!(
                "driver={},file.filename={},{}key-secret={}",
                info.kind, out_path, p, alias
            ));
        } else {
            cmd.arg(format!("driver={},file.filename={}", info.kind, out_path));
        }
    }
    Ok(cmd)
}

/// The qemu-img resize command (storageBackendResizeQemuImg).
pub fn resize_command(vol: &Volume, capacity: u64, secret: Option<&Path>) -> Command {
    let capacity = capacity.div_ceil(512) * 512;
    let mut cmd = Command::new(crate::tool("qemu-img"), FROM);
    cmd.arg("resize");
    if capacity < vol.capacity {
        cmd.arg("--shrink");
    }
    let path = vol.target.path.clone().unwrap_or_default();
    match secret {
        None => {
            cmd.arg(path);
        }
        Some(s) => {
            let alias = format!("{}_encrypt0", vol.name);
            cmd.args([
                "--object".to_string(),
                format!(
                    "secret,id={},file={}",
                    alias,
                    escape_comma(&s.to_string_lossy())
                ),
            ]);
            let (driver, prefix) = if vol.target.format.as_deref() == Some("qcow2") {
                ("qcow2", "encrypt.")
            } else {
                ("luks", "")
            };
            cmd.args([
                "--image-opts".to_string(),
                format!(
                    "driver={},{}key-secret={},file.filename={}",
                    driver,
                    prefix,
                    alias,
                    escape_comma(&path)
                ),
            ]);
        }
    }
    cmd.arg(capacity.to_string());
    cmd
}

/// Checks a volume's encryption can be used to resize it.
pub fn check_resize_encryption(vol: &Volume) -> Result<()> {
    let fmt = vol.target.format.as_deref().unwrap_or("raw");
    let kind = if fmt == "raw" { "luks" } else { fmt };
    check_encryption(fmt, kind, vol)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::storage::{PoolType, VolParseFlags};

    fn vol(xml: &str) -> Volume {
        Volume::parse(xml, PoolType::Dir, VolParseFlags::default()).unwrap()
    }

    #[test]
    fn command_lines_like_libvirt() {
        let v = vol("<volume><name>a.qcow2</name><capacity>1000</capacity><target><format type='qcow2'/></target></volume>");
        let c = command("/p", &v, "/p/a.qcow2", None, false, None, None, Step::None).unwrap();
        assert_eq!(
            c.to_cmdline(),
            "/usr/bin/qemu-img create -f qcow2 -o compat=0.10 /p/a.qcow2 1K"
        );
        let v = vol("<volume><name>a</name><capacity>1048576</capacity><target><format type='qcow2'/><features><lazy_refcounts/></features></target></volume>");
        let c = command("/p", &v, "/p/a", None, true, None, None, Step::None).unwrap();
        assert_eq!(
            c.to_cmdline(),
            "/usr/bin/qemu-img create -f qcow2 -o preallocation=falloc,compat=1.1,lazy_refcounts /p/a 1024K"
        );
        let v = vol("<volume><name>e</name><capacity>1024</capacity><target><format type='raw'/><encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption></target></volume>");
        let c = command(
            "/p",
            &v,
            "/p/e",
            None,
            false,
            Some(Path::new("/run/x,y")),
            None,
            Step::None,
        )
        .unwrap();
        assert_eq!(
            c.to_cmdline(),
            "/usr/bin/qemu-img create -f luks --object secret,id=e_encrypt0,file=/run/x,,y -o key-secret=e_encrypt0 /p/e 1K"
        );
        let src = vol("<volume><name>s</name><capacity>1024</capacity><target><path>/p/s</path><format type='raw'/></target></volume>");
        let v = vol("<volume><name>d</name><capacity>1024</capacity><target><format type='qcow2'/></target></volume>");
        let c = command("/p", &v, "/p/d", Some(&src), false, None, None, Step::None).unwrap();
        assert_eq!(
            c.to_cmdline(),
            "/usr/bin/qemu-img convert -f raw -O qcow2 -o compat=0.10 /p/s /p/d"
        );
        let e = command("/p", &src, "/p/x", None, true, None, None, Step::None).unwrap_err();
        assert_eq!(
            e.message,
            "unsupported configuration: metadata preallocation only available with qcow2"
        );
        let mut v = v;
        v.target.path = Some("/p/d".into());
        assert_eq!(
            resize_command(&v, 1000, None).to_cmdline(),
            "/usr/bin/qemu-img resize /p/d 1024"
        );
        assert_eq!(
            resize_command(&v, 10, None).to_cmdline(),
            "/usr/bin/qemu-img resize --shrink /p/d 512"
        );
    }
}
