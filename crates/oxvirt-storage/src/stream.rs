//! Volume upload and download streams (virFDStreamOpenBlockDevice as the
//! storage driver uses it): a window of the volume from `offset`, at
//! most `length` bytes (0: to the end), with holes sent and received as
//! holes when the client asked for a sparse stream.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileTypeExt;

use oxvirt_core::error::from;
use oxvirt_core::{Error, Result, Stream, StreamChunk};

/// The stream's chunk size (libvirt's).
pub const CHUNK: usize = 262_120;

/// Called once when the stream ends (finished, aborted or dropped).
pub type OnClose = Box<dyn FnOnce() + Send>;

/// An open upload or download.
pub struct VolStream {
    file: Option<File>,
    path: String,
    upload: bool,
    length: u64,
    offset: u64,
    sparse: bool,
    is_block: bool,
    /// Data bytes left in the current data section (sparse downloads).
    data_left: u64,
    on_close: Option<OnClose>,
}

fn sys(msg: impl std::fmt::Display, e: &std::io::Error) -> Error {
    Error::system(from::STREAMS, msg, e)
}

/// lseek(SEEK_DATA/SEEK_HOLE) from the current position: (in data, length
/// of the section), as virFileInData.
fn in_data(f: &mut File) -> std::io::Result<(bool, u64)> {
    use std::os::unix::io::AsRawFd;
    let fd = f.as_raw_fd();
    let cur = f.stream_position()? as libc::off_t;
    let data = unsafe { libc::lseek(fd, cur, libc::SEEK_DATA) };
    let res = if data < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENXIO) {
            return Err(e);
        }
        // In a hole that runs to the end.
        let end = unsafe { libc::lseek(fd, 0, libc::SEEK_END) };
        if end < 0 {
            return Err(std::io::Error::last_os_error());
        }
        (false, (end - cur).max(0) as u64)
    } else if data > cur {
        (false, (data - cur) as u64)
    } else {
        let hole = unsafe { libc::lseek(fd, cur, libc::SEEK_HOLE) };
        if hole < 0 {
            return Err(std::io::Error::last_os_error());
        }
        (true, (hole - cur).max(0) as u64)
    };
    f.seek(SeekFrom::Start(cur as u64))?;
    Ok(res)
}

impl VolStream {
    /// Opens `path` for an upload (`upload`) or a download.
    pub fn open(
        path: &str,
        offset: u64,
        length: u64,
        sparse: bool,
        upload: bool,
        on_close: Option<OnClose>,
    ) -> Result<VolStream> {
        let mut f = std::fs::OpenOptions::new()
            .read(!upload)
            .write(upload)
            .custom_flags_noctty()
            .open(path)
            .map_err(|e| sys(format!("Unable to open stream for '{}'", path), &e))?;
        let md = f
            .metadata()
            .map_err(|e| sys(format!("Unable to access stream for '{}'", path), &e))?;
        if offset > 0 {
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| sys(format!("Unable to seek {} to {}", path, offset), &e))?;
        }
        Ok(VolStream {
            file: Some(f),
            path: path.to_string(),
            upload,
            length,
            offset: 0,
            sparse,
            is_block: md.file_type().is_block_device(),
            data_left: 0,
            on_close,
        })
    }

    fn close(&mut self) {
        self.file = None;
        if let Some(cb) = self.on_close.take() {
            cb();
        }
    }

    fn left(&self) -> u64 {
        if self.length == 0 {
            u64::MAX
        } else {
            self.length - self.offset
        }
    }

    fn read_data(&mut self, max: usize) -> Result<Option<Vec<u8>>> {
        let want = (max as u64).min(self.left()) as usize;
        let Some(f) = self.file.as_mut() else {
            return Ok(None);
        };
        if want == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; want];
        let mut got = 0;
        while got < want {
            match f.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(sys(format!("Unable to read {}", self.path), &e)),
            }
        }
        if got == 0 {
            return Ok(None);
        }
        buf.truncate(got);
        self.offset += got as u64;
        Ok(Some(buf))
    }
}

trait NoCtty {
    fn custom_flags_noctty(&mut self) -> &mut Self;
}

impl NoCtty for std::fs::OpenOptions {
    fn custom_flags_noctty(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NOCTTY)
    }
}

impl Stream for VolStream {
    fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        if self.upload {
            return Ok(None);
        }
        let r = self.read_data(CHUNK);
        if matches!(r, Ok(None)) {
            self.close();
        }
        r
    }

    fn recv_sparse(&mut self) -> Result<Option<StreamChunk>> {
        if !self.sparse || self.is_block {
            return Ok(self.recv()?.map(StreamChunk::Data));
        }
        if self.left() == 0 {
            self.close();
            return Ok(None);
        }
        if self.data_left == 0 {
            let left = self.left();
            let Some(f) = self.file.as_mut() else {
                return Ok(None);
            };
            let (data, mut len) =
                in_data(f).map_err(|e| sys(format!("unable to seek in {}", self.path), &e))?;
            len = len.min(left);
            if len == 0 {
                self.close();
                return Ok(None);
            }
            if !data {
                f.seek(SeekFrom::Current(len as i64))
                    .map_err(|e| sys(format!("unable to seek in {}", self.path), &e))?;
                self.offset += len;
                return Ok(Some(StreamChunk::Hole(len)));
            }
            self.data_left = len;
        }
        let max = (CHUNK as u64).min(self.data_left) as usize;
        match self.read_data(max)? {
            Some(d) => {
                self.data_left -= d.len() as u64;
                Ok(Some(StreamChunk::Data(d)))
            }
            None => {
                self.close();
                Ok(None)
            }
        }
    }

    fn send(&mut self, data: &[u8]) -> Result<()> {
        if !self.upload {
            return Err(Error::new(
                oxvirt_core::error::code::INVALID_STREAM,
                from::STREAMS,
                "",
            ));
        }
        let left = self.left();
        let Some(f) = self.file.as_mut() else {
            return Err(Error::internal(from::STREAMS, "stream is not open"));
        };
        let n = (data.len() as u64).min(left) as usize;
        if self.length != 0 && left == 0 {
            let e = std::io::Error::from_raw_os_error(libc::ENOSPC);
            return Err(sys("cannot write to stream", &e));
        }
        f.write_all(&data[..n])
            .map_err(|e| sys(format!("Unable to write {}", self.path), &e))?;
        self.offset += n as u64;
        if n < data.len() {
            let e = std::io::Error::from_raw_os_error(libc::ENOSPC);
            return Err(sys("cannot write to stream", &e));
        }
        Ok(())
    }

    fn send_hole(&mut self, len: u64) -> Result<()> {
        if !self.upload || !self.sparse {
            return Err(Error::internal(from::STREAMS, "unexpected stream hole"));
        }
        let len = len.min(self.left());
        self.offset += len;
        let is_block = self.is_block;
        let path = self.path.clone();
        let Some(f) = self.file.as_mut() else {
            return Err(Error::internal(from::STREAMS, "stream is not open"));
        };
        if is_block {
            let zeros = vec![0u8; 1 << 20];
            let mut left = len;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                f.write_all(&zeros[..n])
                    .map_err(|e| sys(format!("Unable to write {}", path), &e))?;
                left -= n as u64;
            }
        } else {
            let off = f
                .seek(SeekFrom::Current(len as i64))
                .map_err(|e| sys(format!("unable to seek in {}", path), &e))?;
            f.set_len(off)
                .map_err(|e| sys(format!("unable to truncate {}", path), &e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let r = match self.file.as_mut() {
            Some(f) if self.upload => f
                .flush()
                .map_err(|e| sys(format!("Unable to write {}", self.path), &e)),
            _ => Ok(()),
        };
        self.close();
        r
    }

    fn abort(&mut self) -> Result<()> {
        self.close();
        Ok(())
    }
}

impl Drop for VolStream {
    fn drop(&mut self) {
        self.close();
    }
}
