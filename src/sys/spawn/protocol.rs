//! What the children tell the parent: one typed `Report` per frame, shared
//! by the spawn (report and status pipes) and `isolab exec` (`sys::enter`).
//!
//! A frame is `tag (1 byte) | payload length (u32, little-endian) | payload`,
//! so a message may carry any bytes: newlines, and non-UTF-8 (a program
//! name is the user's bytes, shown lossily only when printed). The child
//! side runs after fork in a possibly multi-threaded parent: it only
//! encodes into a `Vec` (glibc malloc is fork-safe) and writes the bytes
//! with write(2) on a raw fd, never through a lock of Rust's stdio.

use nix::errno::Errno;
use nix::sys::wait::WaitStatus;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitOutcome {
    Exited(i32),
    Signaled(i32),
}

impl ExitOutcome {
    /// The shell convention: the exit code, or 128+N for signal N.
    pub fn code(self) -> i32 {
        match self {
            ExitOutcome::Exited(c) => c,
            ExitOutcome::Signaled(n) => 128 + n,
        }
    }

    /// How a reaped process ended; `None` for a status that is no end
    /// (stopped, continued, still alive): wait again.
    pub(crate) fn from_wait(status: WaitStatus) -> Option<ExitOutcome> {
        match status {
            WaitStatus::Exited(_, code) => Some(ExitOutcome::Exited(code)),
            WaitStatus::Signaled(_, sig, _) => Some(ExitOutcome::Signaled(sig as i32)),
            _ => None,
        }
    }
}

/// What kind of failure a child reports: what the parent decides on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// A step's syscall (or file write) failed.
    Step,
    /// The exec of the command failed (the shell's 127).
    Exec,
}

/// A failure as the child reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// The errno of the call that failed, when one did.
    pub errno: Option<Errno>,
    /// For the user: what failed and why.
    pub message: Vec<u8>,
}

impl Failure {
    pub fn new(kind: FailureKind, errno: Option<Errno>, message: impl Into<Vec<u8>>) -> Failure {
        Failure {
            kind,
            errno,
            message: message.into(),
        }
    }

    /// A step's failure without an errno.
    pub fn step(message: impl Into<Vec<u8>>) -> Failure {
        Failure::new(FailureKind::Step, None, message)
    }

    /// `what: <strerror (os error N)>`, the text std::io::Error gives.
    pub fn os(what: &str, errno: Errno) -> Failure {
        Failure::new(
            FailureKind::Step,
            Some(errno),
            format!("{what}: {}", std::io::Error::from(errno)),
        )
    }

    /// The message as text (lossy where it is not UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.message).into_owned()
    }
}

/// One report from a child to the parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// A step is done; what it found (empty: nothing to say).
    Ok(Vec<u8>),
    /// The init child is forked: its PID as the host numbers it.
    Forked(i32),
    /// A step or the exec failed; the child exits next.
    Err(Failure),
    /// How the command ended: the setup process's last word (status pipe).
    Ended(ExitOutcome),
}

/// The longest payload a frame may announce: a garbled length must not
/// make the parent allocate gigabytes. Messages are a few hundred bytes.
pub const MAX_PAYLOAD: usize = 1 << 16;

const TAG_OK: u8 = b'o';
const TAG_FORKED: u8 = b'f';
const TAG_ERR: u8 = b'e';
const TAG_ENDED: u8 = b'x';
const HEADER: usize = 5;

/// A stream that is not a sequence of frames.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown report tag {0:#04x}")]
    UnknownTag(u8),
    #[error("a report frame announces {0} bytes (at most {MAX_PAYLOAD})")]
    TooLong(usize),
    #[error("a malformed {0:?} report")]
    Malformed(char),
}

fn push_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn read_i32(bytes: &[u8]) -> Option<i32> {
    Some(i32::from_le_bytes(bytes.get(..4)?.try_into().ok()?))
}

impl Report {
    /// `Report::Ok` with a text detail.
    pub fn ok(detail: &str) -> Report {
        Report::Ok(detail.as_bytes().to_vec())
    }

    /// Append this report's frame to `out`. A message longer than
    /// `MAX_PAYLOAD` is cut (at a byte; the reader shows it lossily).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER]);
        let tag = match self {
            Report::Ok(detail) => {
                out.extend_from_slice(&detail[..detail.len().min(MAX_PAYLOAD)]);
                TAG_OK
            }
            Report::Forked(pid) => {
                push_i32(out, *pid);
                TAG_FORKED
            }
            Report::Err(f) => {
                out.push(match f.kind {
                    FailureKind::Step => b's',
                    FailureKind::Exec => b'x',
                });
                push_i32(out, f.errno.map_or(0, |e| e as i32));
                let room = MAX_PAYLOAD - 5;
                out.extend_from_slice(&f.message[..f.message.len().min(room)]);
                TAG_ERR
            }
            Report::Ended(outcome) => {
                let (kind, n) = match outcome {
                    ExitOutcome::Exited(c) => (b'e', *c),
                    ExitOutcome::Signaled(s) => (b's', *s),
                };
                out.push(kind);
                push_i32(out, n);
                TAG_ENDED
            }
        };
        let len = (out.len() - start - HEADER) as u32;
        out[start] = tag;
        out[start + 1..start + HEADER].copy_from_slice(&len.to_le_bytes());
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// The first frame of `buf`: the report and how many bytes it took, or
    /// `None` while the frame is incomplete (read more).
    pub fn decode(buf: &[u8]) -> Result<Option<(Report, usize)>, DecodeError> {
        let Some(&tag) = buf.first() else {
            return Ok(None);
        };
        if ![TAG_OK, TAG_FORKED, TAG_ERR, TAG_ENDED].contains(&tag) {
            return Err(DecodeError::UnknownTag(tag));
        }
        let Some(len) = buf.get(1..HEADER) else {
            return Ok(None);
        };
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(DecodeError::TooLong(len));
        }
        let Some(payload) = buf.get(HEADER..HEADER + len) else {
            return Ok(None);
        };
        let malformed = || DecodeError::Malformed(tag as char);
        let report = match tag {
            TAG_OK => Report::Ok(payload.to_vec()),
            TAG_FORKED if len == 4 => Report::Forked(read_i32(payload).ok_or_else(malformed)?),
            TAG_ERR if len >= 5 => {
                let kind = match payload[0] {
                    b's' => FailureKind::Step,
                    b'x' => FailureKind::Exec,
                    _ => return Err(malformed()),
                };
                let errno = read_i32(&payload[1..]).ok_or_else(malformed)?;
                Report::Err(Failure {
                    kind,
                    errno: (errno != 0).then(|| Errno::from_raw(errno)),
                    message: payload[5..].to_vec(),
                })
            }
            TAG_ENDED if len == 5 => {
                let n = read_i32(&payload[1..]).ok_or_else(malformed)?;
                Report::Ended(match payload[0] {
                    b'e' => ExitOutcome::Exited(n),
                    b's' => ExitOutcome::Signaled(n),
                    _ => return Err(malformed()),
                })
            }
            _ => return Err(malformed()),
        };
        Ok(Some((report, HEADER + len)))
    }
}

/// What reading the next report found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Report(Report),
    /// Nothing yet (a non-blocking pipe).
    Pending,
    /// Every writer has gone: no more reports (a frame cut short by a
    /// writer that died mid-write is dropped).
    Eof,
}

/// The parent's end of a report pipe: reads whole frames, keeping a frame
/// that arrived in part (non-blocking reads) for the next call.
pub struct ReportReader {
    file: std::fs::File,
    buf: Vec<u8>,
    eof: bool,
}

impl ReportReader {
    pub fn new(fd: OwnedFd) -> ReportReader {
        ReportReader {
            file: std::fs::File::from(fd),
            buf: Vec::new(),
            eof: false,
        }
    }

    pub fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// From here on reads never block (`Next::Pending` instead).
    pub fn set_nonblocking(&self) -> std::io::Result<()> {
        use nix::fcntl::{FcntlArg, OFlag, fcntl};
        let flags = OFlag::from_bits_retain(fcntl(&self.file, FcntlArg::F_GETFL)?);
        fcntl(&self.file, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        Ok(())
    }

    pub fn next(&mut self) -> std::io::Result<Next> {
        loop {
            if let Some((report, used)) = Report::decode(&self.buf)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?
            {
                self.buf.drain(..used);
                return Ok(Next::Report(report));
            }
            if self.eof {
                return Ok(Next::Eof);
            }
            let mut chunk = [0u8; 1024];
            match self.file.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(Next::Pending),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next report, blocking; `None` at the end of the stream.
    pub fn read(&mut self) -> std::io::Result<Option<Report>> {
        match self.next()? {
            Next::Report(r) => Ok(Some(r)),
            Next::Pending | Next::Eof => Ok(None),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn round_trip(r: Report) {
        let bytes = r.encode();
        assert_eq!(Report::decode(&bytes), Ok(Some((r.clone(), bytes.len()))));
        // Every proper prefix is an incomplete frame, never an error.
        for cut in 0..bytes.len() {
            assert_eq!(
                Report::decode(&bytes[..cut]),
                Ok(None),
                "{r:?} cut at {cut}"
            );
        }
    }

    #[test]
    fn every_report_survives_a_round_trip() {
        round_trip(Report::ok(""));
        round_trip(Report::ok("host /proc bound in (no PID namespace)"));
        round_trip(Report::Forked(4_194_303));
        round_trip(Report::Forked(-1));
        round_trip(Report::Ended(ExitOutcome::Exited(0)));
        round_trip(Report::Ended(ExitOutcome::Exited(255)));
        round_trip(Report::Ended(ExitOutcome::Signaled(9)));
        round_trip(Report::Err(Failure::os("unshare", Errno::EPERM)));
        round_trip(Report::Err(Failure::step("no errno here")));
    }

    #[test]
    fn messages_keep_newlines_and_non_utf8_bytes() {
        let mut name = b"cannot run \xff\xfe\n-evil\r\nline: No such file".to_vec();
        name.push(0);
        let f = Failure::new(FailureKind::Exec, Some(Errno::ENOENT), name.clone());
        round_trip(Report::Err(f.clone()));
        round_trip(Report::Ok(b"ok \n err forged\n\x80".to_vec()));
        // A message that looks like the old text protocol stays a message.
        let (back, _) = Report::decode(&Report::ok("err x\nok 12\n").encode())
            .unwrap()
            .unwrap();
        assert_eq!(back, Report::Ok(b"err x\nok 12\n".to_vec()));
        assert_eq!(f.text(), String::from_utf8_lossy(&name));
        assert_eq!(f.errno, Some(Errno::ENOENT));
    }

    #[test]
    fn frames_follow_each_other_and_garbage_is_refused() {
        let mut buf = Vec::new();
        Report::ok("a").encode_into(&mut buf);
        Report::Forked(7).encode_into(&mut buf);
        let (first, used) = Report::decode(&buf).unwrap().unwrap();
        assert_eq!(first, Report::ok("a"));
        let (second, rest) = Report::decode(&buf[used..]).unwrap().unwrap();
        assert_eq!((second, used + rest), (Report::Forked(7), buf.len()));
        // The old text lines are no frames.
        assert!(Report::decode(b"ok 12\n").is_err());
        assert!(Report::decode(b"err cannot run x\n").is_err());
        assert_eq!(Report::decode(b"?"), Err(DecodeError::UnknownTag(b'?')));
        assert_eq!(
            Report::decode(&[b'o', 0xff, 0xff, 0xff, 0x7f]),
            Err(DecodeError::TooLong(0x7fff_ffff))
        );
        assert_eq!(
            Report::decode(&[b'f', 2, 0, 0, 0, 1, 2]),
            Err(DecodeError::Malformed('f'))
        );
        assert_eq!(
            Report::decode(&[b'x', 5, 0, 0, 0, b'?', 0, 0, 0, 0]),
            Err(DecodeError::Malformed('x'))
        );
    }

    #[test]
    fn a_long_message_is_cut_to_one_frame() {
        let f = Failure::step(vec![b'a'; MAX_PAYLOAD * 2]);
        let bytes = Report::Err(f).encode();
        assert_eq!(bytes.len(), HEADER + MAX_PAYLOAD);
        let Some((Report::Err(back), _)) = Report::decode(&bytes).unwrap() else {
            panic!("not an error report");
        };
        assert_eq!(back.message.len(), MAX_PAYLOAD - 5);
    }

    #[test]
    fn the_reader_joins_frames_split_across_reads() {
        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let mut reader = ReportReader::new(rd);
        reader.set_nonblocking().unwrap();
        let frame = Report::Err(Failure::step("split\nin two")).encode();
        assert_eq!(reader.next().unwrap(), Next::Pending);
        nix::unistd::write(&wr, &frame[..3]).unwrap();
        assert_eq!(reader.next().unwrap(), Next::Pending);
        nix::unistd::write(&wr, &frame[3..]).unwrap();
        nix::unistd::write(&wr, &Report::ok("next").encode()[..2]).unwrap();
        assert_eq!(
            reader.next().unwrap(),
            Next::Report(Report::Err(Failure::step("split\nin two")))
        );
        assert_eq!(reader.next().unwrap(), Next::Pending);
        drop(wr);
        // The writer died mid-frame: the stream ends there.
        assert_eq!(reader.next().unwrap(), Next::Eof);
    }
}
