//! A file's head, and how to show it: as text, or as hex when binary.

/// A file's head, for printing or previewing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    pub bytes: Vec<u8>,
    /// The size the file reports (0 for many /proc and /sys files).
    pub size: u64,
    /// True if the file had more than `bytes` (the preview is cut).
    pub cut: bool,
    /// Looks binary (a NUL byte or invalid UTF-8): preview as hex.
    pub binary: bool,
}

/// Binary if there is a NUL or invalid UTF-8 (ignoring a character cut off
/// at the very end of a truncated read).
pub fn looks_binary(bytes: &[u8], cut: bool) -> bool {
    if bytes.contains(&0) {
        return true;
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => false,
        Err(e) => !(cut && e.error_len().is_none()),
    }
}

/// `xxd`-style lines: offset, 16 bytes in hex, printable ASCII.
pub fn hex_lines(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, chunk)| {
            let mut hex = String::with_capacity(48);
            for (j, b) in chunk.iter().enumerate() {
                if j == 8 {
                    hex.push(' ');
                }
                hex.push_str(&format!("{b:02x} "));
            }
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("{:08x}  {:<49} |{}|", i * 16, hex, ascii)
        })
        .collect()
}
