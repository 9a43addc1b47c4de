//! Reading the kernel's serial lines as the contract spells them.

/// The 64-bit value written as `0x` + hex digits right after `key` in `line`, e.g.
/// `hex_after("... cr2=0x00000000deadb000 ...", "cr2=")`.
pub fn hex_after(line: &str, key: &str) -> Option<u64> {
    let start = line.find(key)? + key.len();
    let digits = line[start..].strip_prefix("0x")?;
    let end = digits
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(digits.len());
    u64::from_str_radix(&digits[..end], 16).ok()
}

/// The hex digits after `key` + `0x`, as written (to check their exact format).
pub fn hex_digits_after<'line>(line: &'line str, key: &str) -> Option<&'line str> {
    let start = line.find(key)? + key.len();
    let digits = line[start..].strip_prefix("0x")?;
    let end = digits
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(digits.len());
    Some(&digits[..end])
}

/// One `archive entry: NAME size=SIZE fnv1a=HASH` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLine {
    /// Entry name.
    pub name: String,
    /// Entry size in bytes.
    pub size: u64,
    /// FNV-1a 64 of the entry's bytes.
    pub fnv1a: u64,
}

/// Parses an `archive entry:` line; `None` if `line` is not one or is malformed.
pub fn parse_archive_line(line: &str) -> Option<ArchiveLine> {
    let rest = &line[line.find("archive entry: ")? + "archive entry: ".len()..];
    let (rest, hash) = rest.rsplit_once(" fnv1a=")?;
    let (name, size) = rest.rsplit_once(" size=")?;
    let hash = hash.trim_end();
    if hash.len() != 16
        || !hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    Some(ArchiveLine {
        name: name.to_owned(),
        size: size.parse().ok()?,
        fnv1a: u64::from_str_radix(hash, 16).ok()?,
    })
}

/// Splits `FILE:LINE:COL: MESSAGE` (what follows `PANIC at `) into its parts.
pub fn parse_panic_location(text: &str) -> Option<(&str, u32, u32, &str)> {
    let mut parts = text.splitn(4, ':');
    let file = parts.next()?;
    let line = parts.next()?.parse().ok()?;
    let column = parts.next()?.parse().ok()?;
    let message = parts.next()?.strip_prefix(' ')?;
    Some((file, line, column, message))
}

/// The word after `key` in `line`, up to a space, comma, parenthesis or line end.
pub fn word_after<'line>(line: &'line str, key: &str) -> Option<&'line str> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest.find([' ', ',', ')', '\r', '\n']).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hex_values() {
        let line = "EXCEPTION: page fault (vector 14) cr2=0x00000000deadb000 error_code=0x2";
        assert_eq!(hex_after(line, "cr2="), Some(0xdead_b000));
        assert_eq!(hex_after(line, "error_code="), Some(2));
        assert_eq!(hex_digits_after(line, "cr2="), Some("00000000deadb000"));
        assert_eq!(hex_after(line, "rip="), None);
        assert_eq!(hex_after("cr2=12", "cr2="), None);
    }

    #[test]
    fn reads_archive_lines() {
        assert_eq!(
            parse_archive_line("archive entry: a/b c.txt size=513 fnv1a=00000000000000ff\r"),
            Some(ArchiveLine {
                name: "a/b c.txt".into(),
                size: 513,
                fnv1a: 0xff
            })
        );
        assert_eq!(parse_archive_line("archive entry: x size=1 fnv1a=FF"), None);
        assert_eq!(parse_archive_line("archive: 3 entries"), None);
    }

    #[test]
    fn reads_panic_locations() {
        assert_eq!(
            parse_panic_location("kernel/src/main.rs:42:5: deliberate panic: yes"),
            Some(("kernel/src/main.rs", 42, 5, "deliberate panic: yes"))
        );
        assert_eq!(parse_panic_location("no location"), None);
    }
}
