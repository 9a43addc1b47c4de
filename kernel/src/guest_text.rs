//! Text from guests (modules' and processes' log lines) made safe for the
//! console: control characters, embedded line ends and the backslash are
//! escaped, so a guest's text stays on the one line the kernel starts for it,
//! after the origin prefix the kernel writes, and cannot begin a line of its
//! own that reads like a kernel line.
#![forbid(unsafe_code)]

use alloc::string::String;
use core::fmt::Write;

/// `text` with every control character (C0, DEL, C1, and the Unicode line
/// and paragraph separators) written as an escape (`\n`, `\r`, `\t`, `\e`,
/// `\u{..}`), and `\` as `\\`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(character));
            }
            character if character.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(character));
            }
            character => out.push(character),
        }
    }
    out
}

/// Bytes from a guest as text: invalid UTF-8 becomes U+FFFD, then [`escape`].
pub fn escape_bytes(bytes: &[u8]) -> String {
    escape(&String::from_utf8_lossy(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_kernel_line_stays_inside_the_guest_line() {
        let forged = escape("ok\nPANIC at kernel/src/main.rs:1:1: forged\r\nINFO  boot: fake");
        assert!(!forged.contains('\n') && !forged.contains('\r'));
        assert_eq!(
            forged,
            "ok\\nPANIC at kernel/src/main.rs:1:1: forged\\r\\nINFO  boot: fake"
        );
    }

    #[test]
    fn every_control_character_is_escaped_and_plain_text_is_kept() {
        for code in (0u32..0x20).chain(0x7f..0xa0).chain([0x2028, 0x2029]) {
            let character = char::from_u32(code).expect("a character");
            let escaped = escape(&String::from(character));
            assert!(
                escaped.chars().all(|found| !found.is_control()),
                "{code:#x} -> {escaped:?}"
            );
            assert!(escaped.starts_with('\\'), "{code:#x} -> {escaped:?}");
        }
        assert_eq!(
            escape("checksum: 10000 calls, ünïcode"),
            "checksum: 10000 calls, ünïcode"
        );
        assert_eq!(
            escape("a\\nb"),
            "a\\\\nb",
            "a literal backslash-n is not a line end"
        );
        assert_eq!(escape_bytes(b"\xff\x1b[2J"), "\u{fffd}\\e[2J");
    }

    #[test]
    fn every_log_target_of_the_kernel_is_a_reserved_name() {
        use crate::system_manifest::RESERVED_NAMES;
        // Every top-level module of the kernel is a log target of its own,
        // so no module or process may carry its name.
        // (those built only for tests never log in a running kernel).
        let library = include_str!("lib.rs");
        let mut previous = "";
        for line in library.lines() {
            let line = line.trim();
            if core::mem::replace(&mut previous, line) == "#[cfg(test)]" {
                continue;
            }
            let Some(name) = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))
                .and_then(|rest| rest.strip_suffix(';'))
            else {
                continue;
            };
            if name == "console" {
                continue;
            }
            assert!(RESERVED_NAMES.contains(&name), "`{name}` is not reserved");
        }
        // The exception holds only while the console logs nothing itself.
        let console = include_str!("console.rs");
        for level in ["error!", "warn!", "info!", "debug!", "trace!"] {
            assert!(!console.contains(level), "console.rs logs with {level}");
        }
    }
}
