//! The push protocol: how `cargo cella push` hands a module to a running kernel.
//!
//! The tool connects to the guest's second serial port (COM2), asks for a
//! nonce, and sends one upload signed with the push key (see
//! [`crate::push_authority`]):
//!
//! ```text
//! tool:   CELLA-PUSH-HELLO\n
//! kernel: CELLA-PUSH-NONCE NONCE\n
//! tool:   CELLA-PUSH 2 TARGET SIZE [persist] NONCE SIGNATURE\n<SIZE bytes>
//! kernel: CELLA-PUSH-RESULT ok TEXT   (or CELLA-PUSH-RESULT error TEXT)
//! ```
//!
//! NONCE is 32 hex digits, good for one upload; SIGNATURE is the 64-hex-digit
//! HMAC-SHA-256, under the push key, of the header line up to NONCE (with its
//! newline) followed by the bytes. TARGET names the module to replace (hot
//! swap) or, if no running module has that name, the one to load new. The
//! word `persist` (signed with the rest) asks the kernel to keep the module
//! on the file system as well, so the system runs it after a reboot.
//!
//! An upload is refused with a reason, changing nothing, if the channel is
//! not granted, the target is not granted, the header is malformed, the size
//! is 0 or over [`MAX_UPLOAD_BYTES`], the nonce was not the one issued last or
//! was used already (a replayed upload), the signature does not match (a
//! wrong key or bytes changed in transit), or the bytes stop arriving for
//! [`IDLE_TIMEOUT_NANOSECONDS`] (truncated). Every header uses up the nonce
//! outstanding, whatever becomes of it. After refusing a header, the receiver
//! skips the SIZE bytes it announced (so they are never misread as a header);
//! a sender that never sends them resynchronises the channel by staying idle
//! for the timeout. This receiver is the hardware-free part: bytes in, events
//! out.
//!
//! The same channel takes install uploads (`CELLA-INSTALL`, a module with its
//! system manifest entry; see [`crate::install_protocol`]) under the same
//! checks.
#![forbid(unsafe_code)]

use crate::push_authority::{
    NONCE_BYTES, PushGrant, PushKey, SIGNATURE_BYTES, decode_hex, encode_hex, signed_line,
};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// First word of an upload header.
pub const MAGIC: &str = "CELLA-PUSH";
/// The line that asks for a nonce.
pub const HELLO: &str = "CELLA-PUSH-HELLO";
/// First word of the kernel's nonce line.
pub const NONCE: &str = "CELLA-PUSH-NONCE";
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
    /// A nonce for the next upload, as hex digits: the port answers
    /// `CELLA-PUSH-NONCE NONCE`.
    Challenge(String),
    /// A complete upload, signed with the push key; `persist`: to be kept
    /// on the file system too.
    Upload {
        target: String,
        bytes: Vec<u8>,
        persist: bool,
    },
    /// A complete install upload: a module and its system manifest entry
    /// (the compiled form's block), signed together with the push key.
    Install {
        target: String,
        entry: String,
        bytes: Vec<u8>,
    },
    /// An upload refused before anything was changed, and why.
    Rejected(String),
    /// A supervisor command line, signed with the push key (see
    /// [`crate::command_protocol`]).
    Command { line: String },
    /// A command request refused before anything was done, and why.
    CommandRejected(String),
}

/// Whether the channel is open, and with what key and grant.
#[derive(Clone, Debug)]
pub enum PushAccess {
    /// Uploads signed with `key` may target what `grant` allows.
    Granted { key: PushKey, grant: PushGrant },
    /// Every request is refused, with this reason.
    Closed(String),
}

#[derive(Debug)]
enum State {
    Header(Vec<u8>),
    Body {
        target: String,
        expected: usize,
        signed_line: String,
        signature: Vec<u8>,
        bytes: Vec<u8>,
        /// An install upload: the body starts with an entry of this many bytes.
        entry_size: Option<usize>,
        persist: bool,
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
    access: PushAccess,
    /// Nonces issued so far.
    issued: u64,
    /// The nonce the next header must name, as hex digits.
    outstanding: Option<String>,
    /// Mixed into every nonce (the kernel gives the time stamp counter at boot).
    entropy: u64,
}

impl PushReceiver {
    /// A receiver waiting for a request, with `access`; `entropy` is mixed
    /// into its nonces.
    pub fn new(access: PushAccess, entropy: u64) -> Self {
        Self {
            state: State::Header(Vec::new()),
            last_byte_at: 0,
            access,
            issued: 0,
            outstanding: None,
            entropy,
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
                    return self.start(&line, now);
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
                *remaining = remaining.saturating_sub(1);
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
                    signed_line,
                    signature,
                    bytes,
                    entry_size,
                    persist,
                    ..
                } = core::mem::replace(&mut self.state, State::Header(Vec::new()))
                else {
                    return None;
                };
                let event = self.finish(target, &signed_line, &signature, bytes, persist);
                Some(match (event, entry_size) {
                    (PushEvent::Upload { target, bytes, .. }, Some(entry_size)) => {
                        split_install(target, bytes, entry_size)
                    }
                    (event, _) => event,
                })
            }
        }
    }

    /// Checks the signature of a complete upload.
    fn finish(
        &self,
        target: String,
        signed_line: &str,
        signature: &[u8],
        bytes: Vec<u8>,
        persist: bool,
    ) -> PushEvent {
        let PushAccess::Granted { key, .. } = &self.access else {
            return PushEvent::Rejected(String::from("push is closed"));
        };
        if key.verify(signed_line, &bytes, signature) {
            PushEvent::Upload {
                target,
                bytes,
                persist,
            }
        } else {
            PushEvent::Rejected(format!(
                "authentication failed: the {} bytes for {target} were not signed with this system's push key, or changed in transit",
                bytes.len()
            ))
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

    /// Answers a request for a nonce.
    fn challenge(&mut self, now: u64) -> PushEvent {
        let PushAccess::Granted { key, .. } = &self.access else {
            return self.closed();
        };
        self.issued = self.issued.wrapping_add(1);
        let nonce = encode_hex(&key.nonce(self.issued, self.entropy ^ now));
        self.outstanding = Some(nonce.clone());
        PushEvent::Challenge(nonce)
    }

    fn closed(&self) -> PushEvent {
        match &self.access {
            PushAccess::Closed(reason) => PushEvent::Rejected(reason.clone()),
            PushAccess::Granted { .. } => PushEvent::Rejected(String::from("push is open")),
        }
    }

    fn start(&mut self, line: &[u8], now: u64) -> Option<PushEvent> {
        let text = core::str::from_utf8(line)
            .unwrap_or("")
            .trim_end_matches('\r');
        if text.is_empty() {
            return None;
        }
        if text == HELLO {
            return Some(self.challenge(now));
        }
        // Any header uses up the outstanding nonce, whatever becomes of it.
        let outstanding = self.outstanding.take();
        if crate::install_protocol::is_install_header(text) {
            return self.start_install(text, outstanding);
        }
        if text.split(' ').next() == Some(crate::command_protocol::MAGIC) {
            return Some(crate::command_protocol::read_request(
                text,
                &self.access,
                outstanding.as_deref(),
            ));
        }
        let words: Vec<&str> = text.split(' ').collect();
        let (magic, version, target, size, persist, nonce, signature) = match words.as_slice() {
            [magic, version, target, size, nonce, signature] => {
                (magic, version, target, size, false, nonce, signature)
            }
            [magic, version, target, size, keep, nonce, signature] if *keep == "persist" => {
                (magic, version, target, size, true, nonce, signature)
            }
            _ => {
                return Some(PushEvent::Rejected(format!(
                    "bad header `{}`: expected `{MAGIC} 2 TARGET SIZE [persist] NONCE SIGNATURE` after `{HELLO}`",
                    text.chars().take(80).collect::<String>()
                )));
            }
        };
        if *magic != MAGIC || *version != "2" {
            return Some(PushEvent::Rejected(format!(
                "not a version 2 push header: `{}`",
                text.chars().take(40).collect::<String>()
            )));
        }
        let Ok(size) = size.parse::<usize>() else {
            return Some(PushEvent::Rejected(format!(
                "size `{size}` is not a number"
            )));
        };
        self.begin_body(
            Upload {
                target,
                size,
                nonce,
                signature,
                signed_line: signed_line(target, size, persist, nonce),
                entry_size: None,
                persist,
            },
            outstanding,
        )
    }

    /// Reads an install header ([`crate::install_protocol`]) and waits for
    /// its body, or refuses it.
    fn start_install(&mut self, text: &str, outstanding: Option<String>) -> Option<PushEvent> {
        let header = match crate::install_protocol::read_install_header(text) {
            Ok(header) => header,
            Err(reason) => return Some(PushEvent::Rejected(reason)),
        };
        self.begin_body(
            Upload {
                target: header.target,
                size: header.size,
                nonce: header.nonce,
                signature: header.signature,
                signed_line: crate::install_protocol::install_signed_line(
                    header.target,
                    header.entry_size,
                    header.size,
                    header.nonce,
                ),
                entry_size: Some(header.entry_size),
                persist: false,
            },
            outstanding,
        )
    }

    /// Checks an upload's header against the channel's access and the
    /// nonce `outstanding`, then waits for its body; or refuses it and skips
    /// the body it announced.
    fn begin_body(&mut self, upload: Upload<'_>, outstanding: Option<String>) -> Option<PushEvent> {
        let Upload {
            target,
            size,
            nonce,
            signature,
            signed_line,
            entry_size,
            persist,
        } = upload;
        let signature_bytes = decode_hex(signature).filter(|bytes| bytes.len() == SIGNATURE_BYTES);
        let valid_name = !target.is_empty()
            && target.len() <= 64
            && target
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        let refusal = match &self.access {
            PushAccess::Closed(reason) => Some(reason.clone()),
            _ if !valid_name => Some(format!("target `{target}` is not a module name")),
            _ if size == 0 => Some(String::from("empty upload")),
            _ if size > MAX_UPLOAD_BYTES => Some(format!(
                "upload of {size} bytes exceeds the limit of {MAX_UPLOAD_BYTES}"
            )),
            PushAccess::Granted { grant, .. } if !grant.allows(target) => Some(format!(
                "pushing to `{target}` is not granted by the system manifest"
            )),
            _ if signature_bytes.is_none() => Some(format!(
                "signature `{}` is not {} hex digits",
                signature.chars().take(80).collect::<String>(),
                SIGNATURE_BYTES * 2
            )),
            _ if nonce.len() != NONCE_BYTES * 2 || outstanding.as_deref() != Some(nonce) => {
                Some(format!(
                    "nonce `{}` was not issued for this upload or was used already (a replayed upload?); ask with `{HELLO}` first",
                    nonce.chars().take(40).collect::<String>()
                ))
            }
            _ => None,
        };
        let body = size.saturating_add(entry_size.unwrap_or(0));
        if let Some(reason) = refusal {
            if body > 0 {
                self.state = State::Skip { remaining: body };
            }
            return Some(PushEvent::Rejected(reason));
        }
        self.state = State::Body {
            target: target.to_string(),
            expected: body,
            signed_line,
            signature: signature_bytes.unwrap_or_default(),
            bytes: Vec::with_capacity(body),
            entry_size,
            persist,
        };
        None
    }
}

/// An upload's header, as the checks see it.
struct Upload<'a> {
    target: &'a str,
    /// Bytes of the module.
    size: usize,
    nonce: &'a str,
    signature: &'a str,
    /// What the signature covers of the header.
    signed_line: String,
    /// An install upload's entry size.
    entry_size: Option<usize>,
    /// Keep the module on the file system too.
    persist: bool,
}

/// A signed install body taken apart: the entry (UTF-8) and the module.
fn split_install(target: String, mut bytes: Vec<u8>, entry_size: usize) -> PushEvent {
    let module = bytes.split_off(entry_size.min(bytes.len()));
    match String::from_utf8(bytes) {
        Ok(entry) => PushEvent::Install {
            target,
            entry,
            bytes: module,
        },
        Err(_) => PushEvent::Rejected(format!("the manifest entry for {target} is not UTF-8 text")),
    }
}

/// The header line for an upload of `bytes` to `target` with the nonce the
/// kernel issued, signed with `key`; `persist` asks for the module to be
/// kept on the file system too.
pub fn header(key: &PushKey, target: &str, bytes: &[u8], persist: bool, nonce: &str) -> String {
    let line = signed_line(target, bytes.len(), persist, nonce);
    let signature = key.sign(&line, bytes);
    format!("{} {}\n", line.trim_end(), encode_hex(&signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push_authority::KEY_BYTES;
    use crate::test_link::{feed_at, hello, key, receiver};

    /// A signed upload with `nonce`, as sent on the wire.
    fn upload_with(key: &PushKey, nonce: &str, target: &str, bytes: &[u8]) -> Vec<u8> {
        let mut wire = header(key, target, bytes, false, nonce).into_bytes();
        wire.extend_from_slice(bytes);
        wire
    }

    /// Asks for a nonce and sends a signed upload; returns the wire bytes too.
    fn push(receiver: &mut PushReceiver, target: &str, bytes: &[u8]) -> (Vec<PushEvent>, Vec<u8>) {
        let nonce = hello(receiver);
        let wire = upload_with(&key(), &nonce, target, bytes);
        (feed_at(receiver, &wire, 1), wire)
    }

    fn rejected(events: &[PushEvent], needle: &str) -> bool {
        matches!(events, [PushEvent::Rejected(reason)] if reason.contains(needle))
    }

    #[test]
    fn a_signed_upload_arrives_whole() {
        let mut receiver = receiver();
        let module = b"\0asm\x01\0\0\0 and more bytes\n with newlines".to_vec();
        let (events, _) = push(&mut receiver, "uart16550", &module);
        assert_eq!(
            events,
            [PushEvent::Upload {
                target: "uart16550".into(),
                bytes: module,
                persist: false,
            }]
        );
        assert!(!receiver.busy());
    }

    #[test]
    fn each_hello_gets_a_fresh_nonce() {
        let mut receiver = receiver();
        let first = hello(&mut receiver);
        let second = hello(&mut receiver);
        assert_eq!(first.len(), NONCE_BYTES * 2);
        assert_ne!(first, second);
    }

    #[test]
    fn a_wrong_key_a_changed_byte_and_a_replay_are_refused_and_the_next_upload_works() {
        let mut receiver = receiver();
        let nonce = hello(&mut receiver);
        let wrong_key = PushKey::new([8; KEY_BYTES]);
        let events = feed_at(
            &mut receiver,
            &upload_with(&wrong_key, &nonce, "pci", b"0123"),
            1,
        );
        assert!(rejected(&events, "authentication failed"), "{events:?}");

        let nonce = hello(&mut receiver);
        let mut wire = upload_with(&key(), &nonce, "pci", b"0123456789");
        let last = wire.len() - 1;
        wire[last] ^= 1;
        let events = feed_at(&mut receiver, &wire, 1);
        assert!(rejected(&events, "authentication failed"), "{events:?}");

        // A good upload, recorded and sent again: its nonce is used up, even
        // after a fresh hello (which issues another nonce).
        let (events, recorded) = push(&mut receiver, "pci", b"fine");
        assert!(matches!(&events[..], [PushEvent::Upload { .. }]));
        let events = feed_at(&mut receiver, &recorded, 1);
        assert!(rejected(&events, "replayed"), "{events:?}");
        hello(&mut receiver);
        let events = feed_at(&mut receiver, &recorded, 1);
        assert!(rejected(&events, "replayed"), "{events:?}");
        // Without a hello at all.
        let events = feed_at(&mut receiver, &recorded, 1);
        assert!(rejected(&events, "replayed"), "{events:?}");

        let (events, _) = push(&mut receiver, "pci", b"after");
        assert_eq!(
            events,
            [PushEvent::Upload {
                target: "pci".into(),
                bytes: b"after".to_vec(),
                persist: false,
            }]
        );
    }

    #[test]
    fn oversized_and_malformed_headers_are_rejected_and_their_bodies_skipped() {
        let mut receiver = receiver();
        let nonce = hello(&mut receiver);
        let mut huge = format!(
            "{MAGIC} 2 pci {} {nonce} {}\n",
            MAX_UPLOAD_BYTES + 1,
            "0".repeat(64)
        )
        .into_bytes();
        huge.extend(core::iter::repeat_n(0u8, MAX_UPLOAD_BYTES + 1));
        let events = feed_at(&mut receiver, &huge, 1);
        assert!(rejected(&events, "exceeds the limit"), "{events:?}");
        let (events, _) = push(&mut receiver, "pci", b"after");
        assert!(matches!(&events[..], [PushEvent::Upload { .. }]));

        let zeros = "0".repeat(64);
        for bad in [
            String::from("HELLO\n"),
            String::from("CELLA-PUSH 1 pci 4 0000000000000000\n"),
            format!("CELLA-PUSH 2 pci three NONCE {zeros}\n"),
            "CELLA-PUSH 2 pci 3 NONCE xyz\n".to_string(),
            format!("CELLA-PUSH 2 ../etc 3 NONCE {zeros}\n"),
            format!("CELLA-PUSH 2 pci 0 NONCE {zeros}\n"),
        ] {
            let nonce = hello(&mut receiver);
            let events = feed_at(&mut receiver, bad.replace("NONCE", &nonce).as_bytes(), 1);
            assert!(
                matches!(&events[..], [PushEvent::Rejected(_)]),
                "{bad:?}: {events:?}"
            );
            // A refused body of 3 bytes is skipped, not read as a header.
            feed_at(
                &mut receiver,
                if bad.contains(" 3 ") { b"abc" } else { b"" },
                1,
            );
        }
        let (events, _) = push(&mut receiver, "pci", b"fine");
        assert_eq!(
            events,
            [PushEvent::Upload {
                target: "pci".into(),
                bytes: b"fine".to_vec(),
                persist: false,
            }]
        );
    }

    #[test]
    fn a_closed_channel_and_an_ungranted_target_refuse_with_their_reason() {
        let mut closed = PushReceiver::new(
            PushAccess::Closed(String::from("push is not granted by the system manifest")),
            1,
        );
        let events = feed_at(&mut closed, format!("{HELLO}\n").as_bytes(), 1);
        assert!(rejected(&events, "not granted by the system manifest"));
        let wire = upload_with(&key(), &"0".repeat(32), "pci", b"abc");
        let events = feed_at(&mut closed, &wire, 1);
        assert!(rejected(&events, "not granted by the system manifest"));

        let mut only_uart = PushReceiver::new(
            PushAccess::Granted {
                key: key(),
                grant: PushGrant {
                    targets: alloc::vec!["uart16550".into()],
                },
            },
            1,
        );
        let (events, _) = push(&mut only_uart, "pci", b"abc");
        assert!(
            rejected(&events, "pushing to `pci` is not granted"),
            "{events:?}"
        );
        let (events, _) = push(&mut only_uart, "uart16550", b"abc");
        assert!(matches!(&events[..], [PushEvent::Upload { .. }]));
    }

    #[test]
    fn a_stalled_upload_is_truncated_after_the_idle_timeout() {
        let mut receiver = receiver();
        let nonce = hello(&mut receiver);
        let wire = upload_with(&key(), &nonce, "shell", &[7; 100]);
        let cut = wire.len() - 40;
        assert!(feed_at(&mut receiver, &wire[..cut], 1_000).is_empty());
        assert_eq!(
            receiver.check_timeout(1_000 + IDLE_TIMEOUT_NANOSECONDS - 1),
            None
        );
        let timeout = receiver.check_timeout(1_000 + IDLE_TIMEOUT_NANOSECONDS);
        assert!(
            matches!(&timeout, Some(PushEvent::Rejected(reason)) if reason.contains("truncated") && reason.contains("60 of 100 bytes")),
            "{timeout:?}"
        );
        assert!(!receiver.busy());
        assert_eq!(receiver.check_timeout(u64::MAX), None);
    }

    #[test]
    fn an_endless_header_is_cut_off() {
        let mut receiver = receiver();
        let events = feed_at(&mut receiver, &[b'x'; 1000], 1);
        assert_eq!(events.len(), 1);
        assert!(feed_at(&mut receiver, b"\n", 1).is_empty());
        let (events, _) = push(&mut receiver, "a", b"1");
        assert_eq!(events.len(), 1);
    }
}

#[cfg(test)]
mod persist_tests {
    use super::*;
    use crate::test_link::{feed_at, hello, key, receiver};

    #[test]
    fn persist_is_signed_with_the_upload_and_carried_to_the_kernel() {
        let mut receiver = receiver();
        let nonce = hello(&mut receiver);
        let mut wire = header(&key(), "pci", b"module", true, &nonce).into_bytes();
        assert!(core::str::from_utf8(&wire).unwrap().contains(" 6 persist "));
        wire.extend_from_slice(b"module");
        assert_eq!(
            feed_at(&mut receiver, &wire, 1),
            [PushEvent::Upload {
                target: "pci".into(),
                bytes: b"module".to_vec(),
                persist: true,
            }]
        );
        // The word is signed: a header that gains it in transit fails.
        let nonce = hello(&mut receiver);
        let line = header(&key(), "pci", b"module", false, &nonce);
        let forged = line.replacen(" 6 ", " 6 persist ", 1);
        let mut wire = forged.into_bytes();
        wire.extend_from_slice(b"module");
        assert!(matches!(
            &feed_at(&mut receiver, &wire, 2)[..],
            [PushEvent::Rejected(reason)] if reason.contains("authentication failed")
        ));
        // Any other seventh word is a bad header.
        let nonce = hello(&mut receiver);
        let line = header(&key(), "pci", b"module", false, &nonce).replacen(" 6 ", " 6 keep ", 1);
        let mut wire = line.into_bytes();
        wire.extend_from_slice(b"module");
        assert!(matches!(
            &feed_at(&mut receiver, &wire, 3)[..],
            [PushEvent::Rejected(reason)] if reason.contains("bad header")
        ));
    }
}
