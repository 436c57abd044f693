fn main() {
    // libxml2 is the field's RelaxNG validator (Debian: libxml2-dev).
    println!("cargo:rustc-link-lib=xml2");
}
