//! XDR (RFC 4506) as libvirt uses it: big-endian, 4-byte aligned, with
//! bounded strings and arrays. Decoding never panics and never allocates
//! more than the input can justify.

/// libvirt's `REMOTE_STRING_MAX`: the longest string on the wire.
pub const STRING_MAX: usize = 4 * 1024 * 1024;

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XdrError {
    #[error("payload truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("{what} length {len} exceeds the maximum {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("invalid {what} discriminant {value}")]
    BadDiscriminant { what: &'static str, value: i32 },
}

pub type Result<T, E = XdrError> = std::result::Result<T, E>;

fn pad(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Writes XDR into a growing buffer.
#[derive(Debug, Default, Clone)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// An encoder appending to `buf` (e.g. after a frame header).
    pub fn with_buffer(buf: Vec<u8>) -> Self {
        Encoder { buf }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn put_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn put_i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn put_u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn put_i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn put_f64(&mut self, v: f64) {
        self.put_u64(v.to_bits());
    }

    pub fn put_bool(&mut self, v: bool) {
        self.put_u32(v as u32);
    }

    /// Fixed-length opaque data: the bytes and padding, no count.
    pub fn put_fixed_opaque(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        self.buf.extend(std::iter::repeat_n(0u8, pad(data.len())));
    }

    /// Variable-length opaque data: count, bytes, padding.
    pub fn put_opaque(&mut self, data: &[u8]) {
        self.put_u32(data.len() as u32);
        self.put_fixed_opaque(data);
    }

    pub fn put_str(&mut self, s: &str) {
        self.put_opaque(s.as_bytes());
    }

    /// Raw bytes with no XDR framing (stream data).
    pub fn put_raw(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }
}

/// Reads XDR from a byte slice.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(XdrError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn word(&mut self) -> Result<[u8; 4]> {
        let s = self.take(4)?;
        Ok([s[0], s[1], s[2], s[3]])
    }

    pub fn get_u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.word()?))
    }

    pub fn get_i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.word()?))
    }

    pub fn get_u64(&mut self) -> Result<u64> {
        let hi = self.get_u32()? as u64;
        let lo = self.get_u32()? as u64;
        Ok(hi << 32 | lo)
    }

    pub fn get_i64(&mut self) -> Result<i64> {
        Ok(self.get_u64()? as i64)
    }

    pub fn get_f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.get_u64()?))
    }

    /// XDR bool: any non-zero word is true (as glibc's xdr_bool does not
    /// check either).
    pub fn get_bool(&mut self) -> Result<bool> {
        Ok(self.get_u32()? != 0)
    }

    pub fn get_fixed_opaque(&mut self, n: usize) -> Result<&'a [u8]> {
        let data = self.take(n)?;
        self.take(pad(n))?;
        Ok(data)
    }

    /// A count checked against `max` and against what is left in the
    /// input (each element needs at least `min_elem` bytes), so a hostile
    /// count never causes a large allocation.
    pub fn get_count(&mut self, what: &'static str, max: usize, min_elem: usize) -> Result<usize> {
        let len = self.get_u32()? as usize;
        if len > max {
            return Err(XdrError::TooLong { what, len, max });
        }
        let need = len.saturating_mul(min_elem.max(1));
        if min_elem > 0 && need > self.remaining() {
            return Err(XdrError::Truncated {
                offset: self.pos,
                needed: need - self.remaining(),
            });
        }
        Ok(len)
    }

    pub fn get_opaque(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = self.get_count("opaque", max, 1)?;
        self.get_fixed_opaque(len)
    }

    pub fn get_string(&mut self, max: usize) -> Result<String> {
        let len = self.get_count("string", max, 1)?;
        let b = self.get_fixed_opaque(len)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| XdrError::InvalidUtf8)
    }

    /// The rest of the input, unframed (stream data).
    pub fn get_rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
}

/// A type with one XDR encoding.
pub trait Xdr: Sized {
    fn encode(&self, e: &mut Encoder);
    fn decode(d: &mut Decoder<'_>) -> Result<Self>;
    /// The fewest bytes one value takes (for bounding array counts).
    const MIN_SIZE: usize = 4;
}

/// A variable-length type whose maximum length is given by the field
/// that holds it (`T x<MAX>` in the .x files).
pub trait XdrBounded: Sized {
    fn encode(&self, e: &mut Encoder);
    fn decode_max(d: &mut Decoder<'_>, max: usize) -> Result<Self>;
}

impl Xdr for u32 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(*self)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        d.get_u32()
    }
}

impl Xdr for i32 {
    fn encode(&self, e: &mut Encoder) {
        e.put_i32(*self)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        d.get_i32()
    }
}

impl Xdr for u64 {
    fn encode(&self, e: &mut Encoder) {
        e.put_u64(*self)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        d.get_u64()
    }
    const MIN_SIZE: usize = 8;
}

impl Xdr for i64 {
    fn encode(&self, e: &mut Encoder) {
        e.put_i64(*self)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        d.get_i64()
    }
    const MIN_SIZE: usize = 8;
}

impl Xdr for f64 {
    fn encode(&self, e: &mut Encoder) {
        e.put_f64(*self)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        d.get_f64()
    }
    const MIN_SIZE: usize = 8;
}

impl Xdr for bool {
    fn encode(&self, e: &mut Encoder) {
        e.put_bool(*self)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        d.get_bool()
    }
}

/// `remote_nonnull_string`: a string of at most [`STRING_MAX`] bytes.
impl Xdr for String {
    fn encode(&self, e: &mut Encoder) {
        e.put_str(self)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        d.get_string(STRING_MAX)
    }
}

/// An optional value (`T *x`): a 0/1 word, then the value. Decoding
/// reads the word as `xdr_pointer` does, through `xdr_bool`: any non-zero
/// word means present. go-libvirt's CONNECT_OPEN sends the bytes
/// 01 00 00 00 there, which libvirtd takes as a name that is present.
impl<T: Xdr> Xdr for Option<T> {
    fn encode(&self, e: &mut Encoder) {
        match self {
            None => e.put_u32(0),
            Some(v) => {
                e.put_u32(1);
                v.encode(e)
            }
        }
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        if d.get_bool()? {
            Ok(Some(T::decode(d)?))
        } else {
            Ok(None)
        }
    }
}

/// The empty payload.
impl Xdr for () {
    fn encode(&self, _e: &mut Encoder) {}
    fn decode(_d: &mut Decoder<'_>) -> Result<Self> {
        Ok(())
    }
    const MIN_SIZE: usize = 0;
}

/// `remote_uuid`: 16 raw bytes.
impl Xdr for [u8; 16] {
    fn encode(&self, e: &mut Encoder) {
        e.put_fixed_opaque(self)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let b = d.get_fixed_opaque(16)?;
        let mut out = [0u8; 16];
        out.copy_from_slice(b);
        Ok(out)
    }
    const MIN_SIZE: usize = 16;
}

/// `T x<MAX>`: a count, then the elements.
impl<T: Xdr> XdrBounded for Vec<T> {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(self.len() as u32);
        for v in self {
            v.encode(e);
        }
    }
    fn decode_max(d: &mut Decoder<'_>, max: usize) -> Result<Self> {
        let n = d.get_count("array", max, T::MIN_SIZE)?;
        let mut out = Vec::with_capacity(n.min(d.remaining() / T::MIN_SIZE.max(1) + 1));
        for _ in 0..n {
            out.push(T::decode(d)?);
        }
        Ok(out)
    }
}

/// `opaque x<MAX>`: packed bytes with padding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Opaque(pub Vec<u8>);

impl XdrBounded for Opaque {
    fn encode(&self, e: &mut Encoder) {
        e.put_opaque(&self.0)
    }
    fn decode_max(d: &mut Decoder<'_>, max: usize) -> Result<Self> {
        Ok(Opaque(d.get_opaque(max)?.to_vec()))
    }
}

/// `char x<MAX>`: a count, then one 4-byte word per char. libvirt sends
/// C strings this way, NUL included.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharArray(pub Vec<u8>);

impl CharArray {
    /// A C string as libvirt sends it: the bytes and a terminating NUL.
    pub fn c_string(s: &str) -> Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        CharArray(v)
    }

    /// The text up to the first NUL.
    pub fn to_text(&self) -> String {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(self.0.len());
        String::from_utf8_lossy(&self.0[..end]).into_owned()
    }
}

impl XdrBounded for CharArray {
    fn encode(&self, e: &mut Encoder) {
        e.put_u32(self.0.len() as u32);
        for &c in &self.0 {
            e.put_i32(c as i8 as i32);
        }
    }
    fn decode_max(d: &mut Decoder<'_>, max: usize) -> Result<Self> {
        let n = d.get_count("char array", max, 4)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(d.get_i32()? as u8);
        }
        Ok(CharArray(out))
    }
}

/// `char x[N]`: N words, no count (NODE_GET_INFO's model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedChars<const N: usize>(pub [u8; N]);

impl<const N: usize> FixedChars<N> {
    /// `s` truncated to N-1 bytes and NUL-padded.
    pub fn from_str_truncated(s: &str) -> Self {
        let mut a = [0u8; N];
        let b = s.as_bytes();
        let n = b.len().min(N.saturating_sub(1));
        a[..n].copy_from_slice(&b[..n]);
        FixedChars(a)
    }

    pub fn to_text(&self) -> String {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(N);
        String::from_utf8_lossy(&self.0[..end]).into_owned()
    }
}

impl<const N: usize> Default for FixedChars<N> {
    fn default() -> Self {
        FixedChars([0u8; N])
    }
}

impl<const N: usize> Xdr for FixedChars<N> {
    fn encode(&self, e: &mut Encoder) {
        for &c in &self.0 {
            e.put_i32(c as i8 as i32);
        }
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        let mut a = [0u8; N];
        for c in a.iter_mut() {
            *c = d.get_i32()? as u8;
        }
        Ok(FixedChars(a))
    }
    const MIN_SIZE: usize = 4 * N;
}

/// Decodes one field: plain or bounded (`name: T [MAX]`).
#[doc(hidden)]
#[macro_export]
macro_rules! __xdr_dec_field {
    ($d:ident, $t:ty) => {
        <$t as $crate::xdr::Xdr>::decode($d)?
    };
    ($d:ident, $t:ty, $max:expr) => {
        <$t as $crate::xdr::XdrBounded>::decode_max($d, $max)?
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __xdr_enc_field {
    ($e:ident, $v:expr, $t:ty) => {
        <$t as $crate::xdr::Xdr>::encode($v, $e)
    };
    ($e:ident, $v:expr, $t:ty, $max:expr) => {
        <$t as $crate::xdr::XdrBounded>::encode($v, $e)
    };
}

/// Declares structs with their XDR encoding, fields in wire order.
/// A field `name: Vec<T> [MAX]` is a bounded array (or `Opaque`,
/// `CharArray` with their maximum).
#[macro_export]
macro_rules! xdr_struct {
    ($(
        $(#[$m:meta])*
        pub struct $name:ident { $( $(#[$fm:meta])* pub $f:ident : $t:ty $([$max:expr])? ),* $(,)? }
    )*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name { $( $(#[$fm])* pub $f: $t, )* }

        impl $crate::xdr::Xdr for $name {
            #[allow(unused_variables)]
            fn encode(&self, e: &mut $crate::xdr::Encoder) {
                $( $crate::__xdr_enc_field!(e, &self.$f, $t $(, $max)?); )*
            }
            #[allow(unused_variables)]
            fn decode(d: &mut $crate::xdr::Decoder<'_>) -> $crate::xdr::Result<Self> {
                Ok($name { $( $f: $crate::__xdr_dec_field!(d, $t $(, $max)?), )* })
            }
        }
    )*};
}

/// Encodes a value into a fresh buffer.
pub fn to_bytes<T: Xdr>(v: &T) -> Vec<u8> {
    let mut e = Encoder::new();
    v.encode(&mut e);
    e.into_bytes()
}

/// Decodes a whole payload. Trailing bytes are ignored, as libvirt's
/// own decoder does.
pub fn from_bytes<T: Xdr>(b: &[u8]) -> Result<T> {
    T::decode(&mut Decoder::new(b))
}

/// Tuples are their fields back to back: a procedure's arguments (and a
/// few replies) are written as tuples of wire types in the procedure
/// table (`crate::table`), which is the same layout as the `.x` struct.
macro_rules! xdr_tuple {
    ($($t:ident)+) => {
        impl<$($t: Xdr),+> Xdr for ($($t,)+) {
            #[allow(non_snake_case)]
            fn encode(&self, e: &mut Encoder) {
                let ($($t,)+) = self;
                $($t.encode(e);)+
            }
            fn decode(d: &mut Decoder<'_>) -> Result<Self> {
                Ok(($($t::decode(d)?,)+))
            }
            const MIN_SIZE: usize = 0 $(+ $t::MIN_SIZE)+;
        }
    };
}
xdr_tuple!(A);
xdr_tuple!(A B);
xdr_tuple!(A B C);
xdr_tuple!(A B C D);
xdr_tuple!(A B C D E);
xdr_tuple!(A B C D E F);
xdr_tuple!(A B C D E F G);

/// The bound of a variable-length field (`T x<MAX>` in the `.x` files)
/// and what libvirtd calls its elements when a list is too long.
pub trait Limit {
    const MAX: usize;
    const WHAT: &'static str;
}

/// `T x<L::MAX>` as a type of its own, for tuples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct List<T, L>(pub Vec<T>, pub std::marker::PhantomData<L>);

impl<T, L> List<T, L> {
    pub fn new(v: Vec<T>) -> Self {
        List(v, std::marker::PhantomData)
    }
}

impl<T: Xdr, L: Limit> Xdr for List<T, L> {
    fn encode(&self, e: &mut Encoder) {
        XdrBounded::encode(&self.0, e)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(List::new(Vec::decode_max(d, L::MAX)?))
    }
}

/// `opaque x<L::MAX>` as a type of its own, for tuples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bytes<L>(pub Vec<u8>, pub std::marker::PhantomData<L>);

impl<L> Bytes<L> {
    pub fn new(v: Vec<u8>) -> Self {
        Bytes(v, std::marker::PhantomData)
    }
}

impl<L: Limit> Xdr for Bytes<L> {
    fn encode(&self, e: &mut Encoder) {
        e.put_opaque(&self.0)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self> {
        Ok(Bytes::new(d.get_opaque(L::MAX)?.to_vec()))
    }
}
