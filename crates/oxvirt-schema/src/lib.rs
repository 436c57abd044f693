//! Validation of documents against libvirt's RelaxNG schemas, through
//! libxml2 (the validator libvirt itself uses, so verdicts and messages
//! match `virsh define --validate`).
//!
//! Schemas are looked up, in order, in `$OXVIRT_SCHEMA_DIR`,
//! `/usr/share/oxvirt/schemas` and `/usr/share/libvirt/schemas`; each is
//! parsed once per process.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The document does not validate (VIR_ERR_XML_INVALID_SCHEMA).
    #[error("Unable to validate doc against {path}\n{messages}")]
    Invalid { path: String, messages: String },
    /// The schema could not be found or loaded (VIR_ERR_INTERNAL_ERROR).
    #[error("Unable to parse RNG {path}: {reason}")]
    Unavailable { path: String, reason: String },
}

#[repr(C)]
struct XmlError {
    domain: c_int,
    code: c_int,
    message: *const c_char,
    level: c_int,
    file: *const c_char,
    line: c_int,
    str1: *const c_char,
    str2: *const c_char,
    str3: *const c_char,
    int1: c_int,
    int2: c_int,
    ctxt: *mut c_void,
    node: *mut c_void,
}

type StructuredErrorFunc = unsafe extern "C" fn(*mut c_void, *const XmlError);

extern "C" {
    fn xmlReadMemory(
        buffer: *const c_char,
        size: c_int,
        url: *const c_char,
        encoding: *const c_char,
        options: c_int,
    ) -> *mut c_void;
    fn xmlFreeDoc(doc: *mut c_void);
    fn xmlRelaxNGNewParserCtxt(url: *const c_char) -> *mut c_void;
    fn xmlRelaxNGSetParserStructuredErrors(
        ctxt: *mut c_void,
        f: StructuredErrorFunc,
        data: *mut c_void,
    );
    fn xmlRelaxNGParse(ctxt: *mut c_void) -> *mut c_void;
    fn xmlRelaxNGFreeParserCtxt(ctxt: *mut c_void);
    fn xmlRelaxNGNewValidCtxt(schema: *mut c_void) -> *mut c_void;
    fn xmlRelaxNGSetValidStructuredErrors(
        ctxt: *mut c_void,
        f: StructuredErrorFunc,
        data: *mut c_void,
    );
    fn xmlRelaxNGValidateDoc(ctxt: *mut c_void, doc: *mut c_void) -> c_int;
    fn xmlRelaxNGFreeValidCtxt(ctxt: *mut c_void);
}

/// libxml2 parser options: no network, no error or warning output.
const XML_PARSE_NOERROR: c_int = 1 << 5;
const XML_PARSE_NOWARNING: c_int = 1 << 6;
const XML_PARSE_NONET: c_int = 1 << 11;

/// Collects error messages into the `String` behind `data`.
unsafe extern "C" fn collect(data: *mut c_void, err: *const XmlError) {
    if data.is_null() || err.is_null() {
        return;
    }
    // SAFETY: `data` is the `&mut String` passed by the caller for the
    // duration of the libxml2 call; `err` is valid for this callback.
    let out = unsafe { &mut *(data as *mut String) };
    let msg = unsafe { (*err).message };
    if !msg.is_null() {
        out.push_str(&unsafe { CStr::from_ptr(msg) }.to_string_lossy());
    }
}

/// A parsed schema; libxml2 allows concurrent validation with separate
/// validation contexts.
struct Schema(*mut c_void);
// SAFETY: a parsed xmlRelaxNG is immutable after parsing; each validation
// uses its own context.
unsafe impl Send for Schema {}
unsafe impl Sync for Schema {}

fn schema_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("OXVIRT_SCHEMA_DIR") {
        v.push(PathBuf::from(d));
    }
    v.push(PathBuf::from("/usr/share/oxvirt/schemas"));
    v.push(PathBuf::from("/usr/share/libvirt/schemas"));
    v
}

/// The path of schema `name` (e.g. "domain"), if present.
pub fn schema_path(name: &str) -> Option<PathBuf> {
    schema_dirs()
        .into_iter()
        .map(|d| d.join(format!("{}.rng", name)))
        .find(|p| p.is_file())
}

fn load(path: &str) -> Result<&'static Schema, SchemaError> {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static Schema>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = guard.get(path) {
        return Ok(s);
    }
    let cpath = CString::new(path).map_err(|_| SchemaError::Unavailable {
        path: path.into(),
        reason: "bad path".into(),
    })?;
    let mut errors = String::new();
    // SAFETY: plain libxml2 calls with valid NUL-terminated strings; the
    // error sink outlives the parse.
    let schema = unsafe {
        let pctxt = xmlRelaxNGNewParserCtxt(cpath.as_ptr());
        if pctxt.is_null() {
            return Err(SchemaError::Unavailable {
                path: path.into(),
                reason: "cannot create parser".into(),
            });
        }
        xmlRelaxNGSetParserStructuredErrors(
            pctxt,
            collect,
            &mut errors as *mut String as *mut c_void,
        );
        let s = xmlRelaxNGParse(pctxt);
        xmlRelaxNGFreeParserCtxt(pctxt);
        s
    };
    if schema.is_null() {
        return Err(SchemaError::Unavailable {
            path: path.into(),
            reason: errors.trim_end().to_string(),
        });
    }
    let leaked: &'static Schema = Box::leak(Box::new(Schema(schema)));
    guard.insert(path.to_string(), leaked);
    Ok(leaked)
}

/// Validates `xml` against schema `name` ("domain", "network", ...).
pub fn validate(xml: &str, name: &str) -> Result<(), SchemaError> {
    let path = schema_path(name).ok_or_else(|| SchemaError::Unavailable {
        path: format!("{}.rng", name),
        reason: "schema not found".into(),
    })?;
    let path = path.to_string_lossy().into_owned();
    let schema = load(&path)?;
    let len = c_int::try_from(xml.len()).map_err(|_| SchemaError::Invalid {
        path: path.clone(),
        messages: "document too large\n".into(),
    })?;
    let mut errors = String::new();
    // SAFETY: the buffer and its length are valid for the call; the
    // document and contexts are freed before returning.
    let rc = unsafe {
        let doc = xmlReadMemory(
            xml.as_ptr() as *const c_char,
            len,
            std::ptr::null(),
            std::ptr::null(),
            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING,
        );
        if doc.is_null() {
            return Err(SchemaError::Invalid {
                path,
                messages: "malformed document\n".into(),
            });
        }
        let vctxt = xmlRelaxNGNewValidCtxt(schema.0);
        if vctxt.is_null() {
            xmlFreeDoc(doc);
            return Err(SchemaError::Unavailable {
                path,
                reason: "cannot create validation context".into(),
            });
        }
        xmlRelaxNGSetValidStructuredErrors(
            vctxt,
            collect,
            &mut errors as *mut String as *mut c_void,
        );
        let rc = xmlRelaxNGValidateDoc(vctxt, doc);
        xmlRelaxNGFreeValidCtxt(vctxt);
        xmlFreeDoc(doc);
        rc
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(SchemaError::Invalid {
            path,
            messages: errors,
        })
    }
}

/// `--validate` as libvirt's drivers do it: a document that is not
/// well-formed is left to the parser (which reports it as libvirt does);
/// otherwise a schema verdict becomes libvirt's error.
pub fn check(xml: &str, schema: &str) -> oxvirt_core::Result<()> {
    use oxvirt_core::error::{code, from};
    if oxvirt_xml::dom::parse(xml, "").is_err() {
        return Ok(());
    }
    validate(xml, schema).map_err(|e| match e {
        SchemaError::Invalid { .. } => {
            oxvirt_core::Error::new(code::XML_INVALID_SCHEMA, from::XML, e.to_string())
        }
        SchemaError::Unavailable { .. } => {
            oxvirt_core::Error::new(code::INTERNAL_ERROR, from::XML, e.to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_corpus_schemas() -> bool {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/schemas");
        if dir.is_dir() && std::env::var_os("OXVIRT_SCHEMA_DIR").is_none() {
            std::env::set_var("OXVIRT_SCHEMA_DIR", dir);
        }
        schema_path("domain").is_some()
    }

    #[test]
    fn validates_and_reports_like_libvirt() {
        if !with_corpus_schemas() {
            eprintln!("no schemas here; skipped");
            return;
        }
        let good = "<domain type='test'><name>a</name><memory>1024</memory>\
                    <os><type>hvm</type></os></domain>";
        validate(good, "domain").unwrap();
        let bad = "<domain type='test'><name>a</name><memory>1024</memory>\
                   <os><type>hvm</type></os><bogus-element/></domain>";
        match validate(bad, "domain") {
            Err(SchemaError::Invalid { messages, .. }) => {
                assert_eq!(
                    messages,
                    "Element domain has extra content: bogus-element\n"
                )
            }
            other => panic!("unexpected {:?}", other),
        }
    }
}
