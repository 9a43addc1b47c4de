//! Sizes as a person reads them, shared by every text that shows one
//! (`caps`, grants, requests): `64 KiB`, `1 MiB`, `100 bytes`.

use core::fmt;

/// A byte count shown in the largest unit that divides it exactly (bytes,
/// KiB, MiB, GiB), so no figure is rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        for (unit, name) in [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
            if bytes >= unit && bytes.is_multiple_of(unit) {
                return write!(formatter, "{} {name}", bytes / unit);
            }
        }
        match bytes {
            1 => formatter.write_str("1 byte"),
            _ => write!(formatter, "{bytes} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::Size;
    use std::string::ToString;

    #[test]
    fn sizes_read_in_exact_units() {
        let cases = [
            (0, "0 bytes"),
            (1, "1 byte"),
            (100, "100 bytes"),
            (1536, "1536 bytes"),
            (4096, "4 KiB"),
            (12 * 1024, "12 KiB"),
            (64 * 1024, "64 KiB"),
            (1 << 20, "1 MiB"),
            (3 << 30, "3 GiB"),
        ];
        for (bytes, text) in cases {
            assert_eq!(Size(bytes).to_string(), text);
        }
    }
}
