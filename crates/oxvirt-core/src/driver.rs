//! What drivers share beyond their family traits (`crate::family`): the
//! byte streams some APIs open and the callback types of node-device and
//! secret events.

use crate::error::{Error, Result};
pub use crate::event::SecretEventCallback;

/// A node device event: device name, event, detail.
pub type NodeDevEventCallback = std::sync::Arc<dyn Fn(&str, i32, i32) + Send + Sync>;

/// A piece of a sparse stream (VIR_STORAGE_VOL_*_SPARSE_STREAM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChunk {
    Data(Vec<u8>),
    /// So many bytes that read as zeros and take no space.
    Hole(u64),
}

/// A byte stream attached to an API call (console, screenshot, volume
/// upload and download).
pub trait Stream: Send {
    /// The next chunk from the driver; `Ok(None)` at end of stream.
    fn recv(&mut self) -> Result<Option<Vec<u8>>>;
    /// Data from the client.
    fn send(&mut self, data: &[u8]) -> Result<()>;
    /// The client finished sending; the driver completes the transfer.
    fn finish(&mut self) -> Result<()>;
    /// The client gave up.
    fn abort(&mut self) -> Result<()>;
    /// The next piece of a sparse stream: data or a hole. Streams that
    /// know no holes send data only.
    fn recv_sparse(&mut self) -> Result<Option<StreamChunk>> {
        Ok(self.recv()?.map(StreamChunk::Data))
    }
    /// A hole of `len` bytes from the client (a sparse upload).
    fn send_hole(&mut self, len: u64) -> Result<()> {
        let _ = len;
        Err(Error::internal(
            crate::error::from::STREAMS,
            "unexpected stream hole",
        ))
    }
}

/// A stream over bytes already in memory (screenshots, small downloads).
pub struct BufferStream {
    data: Option<Vec<u8>>,
}

impl BufferStream {
    pub fn new(data: Vec<u8>) -> Self {
        BufferStream { data: Some(data) }
    }
}

/// A stream reading a local file in chunks, as libvirt's fd streams do
/// (screenshots of the test driver, volume downloads).
pub struct FileStream {
    file: Option<std::fs::File>,
    /// Bytes still to read (`u64::MAX`: to the end of the file).
    left: u64,
}

impl FileStream {
    /// Chunk size handed to the daemon (libvirt's stream chunk).
    pub const CHUNK: usize = 262_120;

    /// Opens `path` for reading `length` bytes from `offset` (0 = to the
    /// end), with libvirt's "Unable to open stream for 'PATH'" error.
    pub fn open_read(path: &str, offset: u64, length: u64) -> Result<Self> {
        use std::io::{Seek, SeekFrom};
        let err = |e: &std::io::Error| {
            Error::system(
                crate::error::from::STREAMS,
                format!("Unable to open stream for '{}'", path),
                e,
            )
        };
        let mut file = std::fs::File::open(path).map_err(|e| err(&e))?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset)).map_err(|e| err(&e))?;
        }
        Ok(FileStream {
            file: Some(file),
            left: if length == 0 { u64::MAX } else { length },
        })
    }
}

impl Stream for FileStream {
    fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        use std::io::Read;
        let Some(f) = self.file.as_mut() else {
            return Ok(None);
        };
        let want = (Self::CHUNK as u64).min(self.left) as usize;
        if want == 0 {
            self.file = None;
            return Ok(None);
        }
        let mut buf = vec![0u8; want];
        let n = loop {
            match f.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::system(
                        crate::error::from::STREAMS,
                        "Unable to read from stream",
                        &e,
                    ))
                }
            }
        };
        if n == 0 {
            self.file = None;
            return Ok(None);
        }
        buf.truncate(n);
        self.left = self.left.saturating_sub(n as u64);
        Ok(Some(buf))
    }
    fn send(&mut self, _data: &[u8]) -> Result<()> {
        Err(Error::new(
            crate::error::code::INVALID_STREAM,
            crate::error::from::STREAMS,
            "",
        ))
    }
    fn finish(&mut self) -> Result<()> {
        self.file = None;
        Ok(())
    }
    fn abort(&mut self) -> Result<()> {
        self.file = None;
        Ok(())
    }
}

impl Stream for BufferStream {
    fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.data.take().filter(|d| !d.is_empty()))
    }
    fn send(&mut self, _data: &[u8]) -> Result<()> {
        Err(Error::new(
            crate::error::code::INVALID_STREAM,
            crate::error::from::STREAMS,
            "",
        ))
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    fn abort(&mut self) -> Result<()> {
        Ok(())
    }
}
