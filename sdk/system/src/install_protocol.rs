//! The install upload: a module pushed together with its system manifest
//! entry (`cargo cella push NAME --grant`), so a running system can take a
//! module its manifest does not list.
//!
//! It travels on the push channel ([`crate::push_protocol`]) after the same
//! nonce exchange, with its own header:
//!
//! ```text
//! tool:   CELLA-INSTALL 1 TARGET ENTRY_SIZE SIZE NONCE SIGNATURE\n
//!         ENTRY_SIZE bytes of the entry, then SIZE bytes of .wasm
//! ```
//!
//! The entry is the module's block of the compiled system manifest
//! (`crate::system_manifest`), with its header line:
//!
//! ```text
//! cella-system 1
//! module blink installed/blink.wasm
//! serve blink
//! grant port 0x510 2
//! ```
//!
//! SIGNATURE is the HMAC-SHA-256 under the push key of the header line up to
//! NONCE (with a newline) followed by the entry and the module bytes: the
//! signature covers both. The receiver applies every check of a push upload
//! (channel, target, sizes, nonce, signature) and these: the entry is
//! 1-[`MAX_ENTRY_BYTES`] bytes of UTF-8. Whether the entry fits the running
//! system is the kernel's question ([`crate::validate::validate_addition`]).

use crate::push_authority::{PushKey, encode_hex};
use crate::system_manifest::{ModulePlan, SystemManifest};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// First word of an install header.
pub const INSTALL_MAGIC: &str = "CELLA-INSTALL";
/// Largest manifest entry accepted.
pub const MAX_ENTRY_BYTES: usize = 4096;

/// The words of an install header.
#[derive(Debug, PartialEq, Eq)]
pub struct InstallHeader<'a> {
    pub target: &'a str,
    /// Bytes of the manifest entry.
    pub entry_size: usize,
    /// Bytes of the module.
    pub size: usize,
    pub nonce: &'a str,
    pub signature: &'a str,
}

/// Whether header line `text` is an install header.
pub fn is_install_header(text: &str) -> bool {
    text.split(' ').next() == Some(INSTALL_MAGIC)
}

/// Reads an install header line (without its newline).
///
/// # Errors
/// Why the line is not one: the wrong number of words, another version, a
/// size that is not a number, an entry of 0 or over [`MAX_ENTRY_BYTES`]
/// bytes.
pub fn read_install_header(text: &str) -> Result<InstallHeader<'_>, String> {
    let words: Vec<&str> = text.split(' ').collect();
    let [magic, version, target, entry_size, size, nonce, signature] = words.as_slice() else {
        return Err(format!(
            "bad header `{}`: expected `{INSTALL_MAGIC} 1 TARGET ENTRY_SIZE SIZE NONCE SIGNATURE`",
            text.chars().take(80).collect::<String>()
        ));
    };
    if *magic != INSTALL_MAGIC || *version != "1" {
        return Err(format!(
            "not a version 1 install header: `{}`",
            text.chars().take(40).collect::<String>()
        ));
    }
    let number = |word: &str, what: &str| {
        word.parse::<usize>()
            .map_err(|_| format!("{what} `{word}` is not a number"))
    };
    let entry_size = number(entry_size, "entry size")?;
    let size = number(size, "size")?;
    if entry_size == 0 || entry_size > MAX_ENTRY_BYTES {
        return Err(format!(
            "a manifest entry of {entry_size} bytes; it must be 1-{MAX_ENTRY_BYTES}"
        ));
    }
    Ok(InstallHeader {
        target,
        entry_size,
        size,
        nonce,
        signature,
    })
}

/// The signed part of an install header: the line up to NONCE, with a newline.
pub fn install_signed_line(target: &str, entry_size: usize, size: usize, nonce: &str) -> String {
    format!("{INSTALL_MAGIC} 1 {target} {entry_size} {size} {nonce}\n")
}

/// The body of an install upload: the entry, then the module.
pub fn install_body(entry: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(entry.len() + bytes.len());
    body.extend_from_slice(entry.as_bytes());
    body.extend_from_slice(bytes);
    body
}

/// The header line for installing `bytes` as `target` with manifest entry
/// `entry`, under the nonce the kernel issued, signed with `key`. The body
/// that follows it is [`install_body`].
pub fn install_header(
    key: &PushKey,
    target: &str,
    entry: &str,
    bytes: &[u8],
    nonce: &str,
) -> String {
    let line = install_signed_line(target, entry.len(), bytes.len(), nonce);
    let signature = key.sign(&line, &install_body(entry, bytes));
    format!("{} {}\n", line.trim_end(), encode_hex(&signature))
}

/// Reads a manifest entry for `target`: one module block of the compiled
/// manifest, named `target`, with nothing else (no process, no `push`).
///
/// # Errors
/// What is wrong with it, in words.
pub fn read_entry(target: &str, entry: &str) -> Result<ModulePlan, String> {
    let manifest =
        SystemManifest::read(entry).map_err(|error| format!("the manifest entry: {error}"))?;
    if manifest.push.is_some() || !manifest.processes.is_empty() {
        return Err(String::from(
            "the manifest entry may hold one module block and nothing else (no `push`, no process)",
        ));
    }
    let mut modules = manifest.modules;
    match modules.as_slice() {
        [plan] if plan.name == target => Ok(modules.remove(0)),
        [plan] => Err(format!(
            "the manifest entry is for `{}`, the upload for `{target}`",
            plan.name
        )),
        _ => Err(format!(
            "the manifest entry holds {} module blocks; it must hold exactly one",
            modules.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push_authority::{KEY_BYTES, PushGrant};
    use crate::push_protocol::{PushAccess, PushEvent, PushReceiver};
    use crate::test_link::{feed_all, hello, key, receiver};

    const ENTRY: &str = "cella-system 1\nmodule blink installed/blink.wasm\ngrant port 0x510 2\n";

    /// A signed install upload as it goes on the wire.
    fn wire(key: &PushKey, nonce: &str, entry: &str, bytes: &[u8]) -> Vec<u8> {
        let mut wire = install_header(key, "blink", entry, bytes, nonce).into_bytes();
        wire.extend_from_slice(&install_body(entry, bytes));
        wire
    }

    fn refused(events: &[PushEvent], needle: &str) -> bool {
        matches!(events, [PushEvent::Rejected(reason)] if reason.contains(needle))
    }

    #[test]
    fn a_signed_install_arrives_as_entry_and_module_many_times_in_a_row() {
        let mut receiver = receiver();
        for round in 0..20u8 {
            let module = [b'\0', b'a', b's', b'm', round, b'\n', 1, 0];
            let nonce = hello(&mut receiver);
            let events = feed_all(&mut receiver, &wire(&key(), &nonce, ENTRY, &module));
            assert_eq!(
                events,
                [PushEvent::Install {
                    target: String::from("blink"),
                    entry: String::from(ENTRY),
                    bytes: module.to_vec(),
                }]
            );
            assert!(!receiver.busy());
        }
    }

    #[test]
    fn a_wrong_key_a_changed_entry_a_replay_and_a_bad_entry_are_refused() {
        let mut receiver = receiver();
        let nonce = hello(&mut receiver);
        let stranger = PushKey::new([1; KEY_BYTES]);
        let events = feed_all(&mut receiver, &wire(&stranger, &nonce, ENTRY, b"wasm"));
        assert!(refused(&events, "authentication failed"));

        // The signature covers the entry: a grant widened in transit is refused.
        let nonce = hello(&mut receiver);
        let mut changed = wire(&key(), &nonce, ENTRY, b"wasm");
        let at = changed.len() - 4 - 2;
        changed[at] = b'8';
        let events = feed_all(&mut receiver, &changed);
        assert!(refused(&events, "authentication failed"));

        let nonce = hello(&mut receiver);
        let recorded = wire(&key(), &nonce, ENTRY, b"wasm");
        assert!(matches!(
            feed_all(&mut receiver, &recorded).as_slice(),
            [PushEvent::Install { .. }]
        ));
        assert!(refused(&feed_all(&mut receiver, &recorded), "replayed"));

        // An entry that is not text, correctly signed: refused.
        let nonce = hello(&mut receiver);
        let mut body = alloc::vec![0xff, 0xfe];
        body.extend_from_slice(b"wasm");
        let signed = install_signed_line("blink", 2, 4, &nonce);
        let signature = encode_hex(&key().sign(&signed, &body));
        let mut line = format!("{} {signature}\n", signed.trim_end()).into_bytes();
        line.extend_from_slice(&body);
        assert!(refused(&feed_all(&mut receiver, &line), "not UTF-8"));
    }

    #[test]
    fn an_oversized_entry_is_refused_from_its_header_and_the_next_upload_works() {
        let mut receiver = receiver();
        let nonce = hello(&mut receiver);
        let header = format!(
            "{INSTALL_MAGIC} 1 blink {} 4 {nonce} {}\n",
            MAX_ENTRY_BYTES + 1,
            "0".repeat(64)
        );
        assert!(refused(
            &feed_all(&mut receiver, header.as_bytes()),
            "4097 bytes"
        ));
        let nonce = hello(&mut receiver);
        assert!(matches!(
            feed_all(&mut receiver, &wire(&key(), &nonce, ENTRY, b"wasm")).as_slice(),
            [PushEvent::Install { .. }]
        ));
        // A refused header's body (entry and module) is skipped, not read as a header.
        let grant = PushGrant {
            targets: alloc::vec![String::from("uart")],
        };
        let mut only_uart = PushReceiver::new(PushAccess::Granted { key: key(), grant }, 5);
        let nonce = hello(&mut only_uart);
        let events = feed_all(&mut only_uart, &wire(&key(), &nonce, ENTRY, b"wasm"));
        assert!(refused(&events, "pushing to `blink` is not granted"));
        assert!(!only_uart.busy());
    }

    #[test]
    fn headers_read_back_and_refuse_what_is_malformed() {
        let key = PushKey::new([3; KEY_BYTES]);
        let line = install_header(&key, "blink", "entry", b"wasm", "00ff");
        let header = read_install_header(line.trim_end()).expect("a header");
        assert_eq!(
            (header.target, header.entry_size, header.size, header.nonce),
            ("blink", 5, 4, "00ff")
        );
        assert_eq!(header.signature.len(), 64);
        assert!(is_install_header(line.trim_end()));
        assert!(!is_install_header("CELLA-PUSH 2 a 1 n s"));
        for (bad, needle) in [
            (
                "CELLA-INSTALL 1 a 1 1 n",
                "expected `CELLA-INSTALL 1 TARGET",
            ),
            ("CELLA-INSTALL 2 a 1 1 n s", "not a version 1"),
            (
                "CELLA-INSTALL 1 a x 1 n s",
                "entry size `x` is not a number",
            ),
            ("CELLA-INSTALL 1 a 1 -1 n s", "size `-1` is not a number"),
            ("CELLA-INSTALL 1 a 0 1 n s", "1-4096"),
            (
                "CELLA-INSTALL 1 a 4097 1 n s",
                "a manifest entry of 4097 bytes",
            ),
        ] {
            let problem = read_install_header(bad).unwrap_err();
            assert!(problem.contains(needle), "{bad}: {problem}");
        }
    }

    #[test]
    fn an_entry_is_one_module_block_for_its_target() {
        let plan = read_entry(
            "blink",
            "cella-system 1\nmodule blink installed/blink.wasm\nserve blink\ngrant port 0x510 2\nlimit queue=8\n",
        )
        .expect("an entry");
        assert_eq!(plan.serves, ["blink"]);
        assert_eq!(plan.limits.queue, Some(8));
        for (bad, needle) in [
            ("module blink b.wasm\n", "must start with `cella-system 1`"),
            ("cella-system 1\nmodule other o.wasm\n", "is for `other`"),
            ("cella-system 1\n", "holds 0 module blocks"),
            (
                "cella-system 1\nmodule blink b\nmodule blink c\n",
                "holds 2 module blocks",
            ),
            ("cella-system 1\npush *\nmodule blink b\n", "nothing else"),
            (
                "cella-system 1\nmodule blink b\nprocess p q\n",
                "nothing else",
            ),
            ("cella-system 1\nmodule blink b\nlimit queue=0\n", "line 3"),
            (
                "cella-system 1\nmodule blink b\ngrant port 0xffff 2\n",
                "0x10000",
            ),
        ] {
            let problem = read_entry("blink", bad).unwrap_err();
            assert!(problem.contains(needle), "{bad}: {problem}");
        }
    }
}
