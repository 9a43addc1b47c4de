//! The push protocol: how `cargo cella push` hands a module to a running kernel.
//!
//! The tool connects to the guest's second serial port (COM2) and sends one
//! upload: a header line, then exactly SIZE bytes of `.wasm`:
//!
//! ```text
//! CELLA-PUSH 1 TARGET SIZE FNV1A64\n<SIZE bytes>
//! ```
//!
//! TARGET names the module to replace (hot swap) or, if no running module has
//! that name, the one to load new; FNV1A64 is the 16-hex-digit FNV-1a hash of
//! the bytes. The kernel answers with one line, `CELLA-PUSH-RESULT ok TEXT` or
//! `CELLA-PUSH-RESULT error TEXT`. An upload that is malformed, too large
//! (over [`MAX_UPLOAD_BYTES`]), corrupted (hash mismatch) or truncated (no byte
//! for [`IDLE_TIMEOUT_NANOSECONDS`] before SIZE bytes arrived) is rejected
//! with a reason and changes nothing. After refusing a header, the receiver
//! skips the SIZE bytes it announced (so they are never misread as a header);
//! a sender that never sends them resynchronises the channel by staying idle
//! for the timeout. This receiver is the hardware-free part: bytes in, events out.

use crate::fnv::fnv1a_64;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// First word of an upload header.
pub const MAGIC: &str = "CELLA-PUSH";
/// First word of the kernel's answer.
pub const RESULT: &str = "CELLA-PUSH-RESULT";
/// Largest module accepted.
pub const MAX_UPLOAD_BYTES: usize = 1 << 20;
/// Longest header line.
pub const MAX_HEADER_BYTES: usize = 256;
/// An upload that stalls this long is truncated.
pub const IDLE_TIMEOUT_NANOSECONDS: u64 = 2_000_000_000;

/// What the receiver produced.
#[derive(Debug, PartialEq, Eq)]
pub enum PushEvent {
    /// A complete, intact upload.
    Upload { target: String, bytes: Vec<u8> },
    /// An upload refused before anything was changed, and why.
    Rejected(String),
}

#[derive(Debug)]
enum State {
    Header(Vec<u8>),
    Body {
        target: String,
        expected: usize,
        hash: u64,
        bytes: Vec<u8>,
    },
    /// Skipping the body of a refused upload.
    Skip {
        remaining: usize,
    },
    /// Skipping the rest of an overlong header line.
    SkipLine,
}

/// Turns bytes from the push port into [`PushEvent`]s.
#[derive(Debug)]
pub struct PushReceiver {
    state: State,
    last_byte_at: u64,
}

impl Default for PushReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl PushReceiver {
    /// A receiver waiting for a header.
    pub fn new() -> Self {
        Self {
            state: State::Header(Vec::new()),
            last_byte_at: 0,
        }
    }

    /// Whether the receiver is in the middle of an upload.
    pub fn busy(&self) -> bool {
        !matches!(&self.state, State::Header(line) if line.is_empty())
    }

    /// Takes one byte received at time `now` (nanoseconds).
    pub fn feed(&mut self, byte: u8, now: u64) -> Option<PushEvent> {
        self.last_byte_at = now;
        match &mut self.state {
            State::Header(line) => {
                if byte == b'\n' {
                    let line = core::mem::take(line);
                    return self.start(&line);
                }
                if line.len() >= MAX_HEADER_BYTES {
                    self.state = State::SkipLine;
                    return Some(PushEvent::Rejected(format!(
                        "header longer than {MAX_HEADER_BYTES} bytes"
                    )));
                }
                line.push(byte);
                None
            }
            State::SkipLine => {
                if byte == b'\n' {
                    self.state = State::Header(Vec::new());
                }
                None
            }
            State::Skip { remaining } => {
                *remaining -= 1;
                if *remaining == 0 {
                    self.state = State::Header(Vec::new());
                }
                None
            }
            State::Body {
                bytes, expected, ..
            } => {
                bytes.push(byte);
                if bytes.len() < *expected {
                    return None;
                }
                let State::Body {
                    target,
                    hash,
                    bytes,
                    ..
                } = core::mem::replace(&mut self.state, State::Header(Vec::new()))
                else {
                    return None;
                };
                let actual = fnv1a_64(&bytes);
                if actual != hash {
                    return Some(PushEvent::Rejected(format!(
                        "checksum mismatch: header says {hash:016x}, {} bytes arrived hashing to {actual:016x}",
                        bytes.len()
                    )));
                }
                Some(PushEvent::Upload { target, bytes })
            }
        }
    }

    /// Reports an upload that stalled for [`IDLE_TIMEOUT_NANOSECONDS`] and starts over.
    pub fn check_timeout(&mut self, now: u64) -> Option<PushEvent> {
        if !self.busy() || now.saturating_sub(self.last_byte_at) < IDLE_TIMEOUT_NANOSECONDS {
            return None;
        }
        let state = core::mem::replace(&mut self.state, State::Header(Vec::new()));
        match state {
            State::Body {
                bytes,
                expected,
                target,
                ..
            } => Some(PushEvent::Rejected(format!(
                "truncated upload for {target}: {} of {expected} bytes arrived",
                bytes.len()
            ))),
            State::Header(line) => Some(PushEvent::Rejected(format!(
                "incomplete header ({} bytes without a newline)",
                line.len()
            ))),
            State::Skip { .. } | State::SkipLine => None,
        }
    }

    fn start(&mut self, line: &[u8]) -> Option<PushEvent> {
        let text = core::str::from_utf8(line)
            .unwrap_or("")
            .trim_end_matches('\r');
        if text.is_empty() {
            return None;
        }
        let words: Vec<&str> = text.split(' ').collect();
        let [magic, version, target, size, hash] = words.as_slice() else {
            return Some(PushEvent::Rejected(format!(
                "bad header `{}`: expected `{MAGIC} 1 TARGET SIZE FNV1A64`",
                text.chars().take(80).collect::<String>()
            )));
        };
        if *magic != MAGIC || *version != "1" {
            return Some(PushEvent::Rejected(format!(
                "not a version 1 push header: `{magic} {version}`"
            )));
        }
        let Ok(size) = size.parse::<usize>() else {
            return Some(PushEvent::Rejected(format!(
                "size `{size}` is not a number"
            )));
        };
        let Some(hash) = (hash.len() == 16)
            .then(|| u64::from_str_radix(hash, 16).ok())
            .flatten()
        else {
            return Some(PushEvent::Rejected(format!(
                "hash `{hash}` is not 16 hex digits"
            )));
        };
        let valid_name = !target.is_empty()
            && target.len() <= 64
            && target
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        let refusal = if !valid_name {
            Some(format!("target `{target}` is not a module name"))
        } else if size == 0 {
            Some(String::from("empty upload"))
        } else if size > MAX_UPLOAD_BYTES {
            Some(format!(
                "upload of {size} bytes exceeds the limit of {MAX_UPLOAD_BYTES}"
            ))
        } else {
            None
        };
        if let Some(reason) = refusal {
            if size > 0 {
                self.state = State::Skip { remaining: size };
            }
            return Some(PushEvent::Rejected(reason));
        }
        self.state = State::Body {
            target: target.to_string(),
            expected: size,
            hash,
            bytes: Vec::with_capacity(size),
        };
        None
    }
}

/// The header line for an upload of `bytes` to `target`.
pub fn header(target: &str, bytes: &[u8]) -> String {
    format!(
        "{MAGIC} 1 {target} {} {:016x}\n",
        bytes.len(),
        fnv1a_64(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(receiver: &mut PushReceiver, bytes: &[u8], now: u64) -> Vec<PushEvent> {
        bytes
            .iter()
            .filter_map(|&byte| receiver.feed(byte, now))
            .collect()
    }

    fn upload(target: &str, bytes: &[u8]) -> Vec<u8> {
        let mut wire = header(target, bytes).into_bytes();
        wire.extend_from_slice(bytes);
        wire
    }

    #[test]
    fn a_good_upload_arrives_whole() {
        let mut receiver = PushReceiver::new();
        let module = b"\0asm\x01\0\0\0 and more bytes\n with newlines".to_vec();
        let events = feed_all(&mut receiver, &upload("uart16550", &module), 1);
        assert_eq!(
            events,
            [PushEvent::Upload {
                target: "uart16550".into(),
                bytes: module
            }]
        );
        assert!(!receiver.busy());
    }

    #[test]
    fn corrupt_oversized_and_malformed_uploads_are_rejected_and_the_next_one_works() {
        let mut receiver = PushReceiver::new();
        let mut wire = upload("pci", b"0123456789");
        let last = wire.len() - 1;
        wire[last] ^= 1;
        let events = feed_all(&mut receiver, &wire, 1);
        assert!(
            matches!(&events[..], [PushEvent::Rejected(reason)] if reason.contains("checksum mismatch")),
            "{events:?}"
        );

        let mut huge =
            format!("{MAGIC} 1 pci {} 0000000000000000\n", MAX_UPLOAD_BYTES + 1).into_bytes();
        huge.extend(core::iter::repeat_n(0u8, MAX_UPLOAD_BYTES + 1));
        huge.extend_from_slice(&upload("pci", b"after"));
        let events = feed_all(&mut receiver, &huge, 1);
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            matches!(&events[0], PushEvent::Rejected(reason) if reason.contains("exceeds the limit"))
        );
        assert_eq!(
            events[1],
            PushEvent::Upload {
                target: "pci".into(),
                bytes: b"after".to_vec()
            }
        );

        for bad in [
            "HELLO\n",
            "CELLA-PUSH 2 pci 3 0000000000000000\n",
            "CELLA-PUSH 1 pci three 0000000000000000\n",
            "CELLA-PUSH 1 pci 3 xyz\n",
            "CELLA-PUSH 1 ../etc 3 0000000000000000\n",
            "CELLA-PUSH 1 pci 0 0000000000000000\n",
        ] {
            let events = feed_all(&mut receiver, bad.as_bytes(), 1);
            assert!(
                matches!(&events[..], [PushEvent::Rejected(_)]),
                "{bad:?}: {events:?}"
            );
            // A refused body of 3 bytes is skipped, not read as a header.
            feed_all(
                &mut receiver,
                if bad.contains(" 3 ") { b"abc" } else { b"" },
                1,
            );
        }
        let events = feed_all(&mut receiver, &upload("pci", b"fine"), 1);
        assert_eq!(
            events,
            [PushEvent::Upload {
                target: "pci".into(),
                bytes: b"fine".to_vec()
            }]
        );
    }

    #[test]
    fn a_stalled_upload_is_truncated_after_the_idle_timeout() {
        let mut receiver = PushReceiver::new();
        let wire = upload("shell", &[7; 100]);
        assert!(feed_all(&mut receiver, &wire[..60], 1_000).is_empty());
        assert_eq!(
            receiver.check_timeout(1_000 + IDLE_TIMEOUT_NANOSECONDS - 1),
            None
        );
        let timeout = receiver.check_timeout(1_000 + IDLE_TIMEOUT_NANOSECONDS);
        assert!(
            matches!(&timeout, Some(PushEvent::Rejected(reason)) if reason.contains("truncated") && reason.contains("of 100 bytes")),
            "{timeout:?}"
        );
        assert!(!receiver.busy());
        assert_eq!(receiver.check_timeout(u64::MAX), None);
    }

    #[test]
    fn an_endless_header_is_cut_off() {
        let mut receiver = PushReceiver::new();
        let events = feed_all(&mut receiver, &[b'x'; 1000], 1);
        assert_eq!(events.len(), 1);
        assert!(feed_all(&mut receiver, b"\n", 1).is_empty());
        assert!(feed_all(&mut receiver, &upload("a", b"1"), 1).len() == 1);
    }
}
