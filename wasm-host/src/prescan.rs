//! A minimal walk over a module's section headers before wasmi sees it, to
//! refuse inputs that would make wasmi 2.0.0 panic.
//!
//! Known case: with strict enforced limits, wasmi divides the code section's
//! size by its declared function count without checking the count for zero
//! (a code section declaring 0 functions but 1000+ bytes long, even when the
//! input ends before those bytes). A code section
//! that declares no functions must hold nothing but that count, so any such
//! section with extra bytes is invalid anyway and is refused here.
//!
//! The walk stops silently at anything malformed: wasmi parses sections in
//! order and reports the error itself, so it cannot reach a section beyond
//! the point where this walk stopped.

const HEADER_BYTES: usize = 8;
const CODE_SECTION: u8 = 10;

/// Reads an unsigned LEB128 `u32` at `*position`, advancing it.
fn read_u32(bytes: &[u8], position: &mut usize) -> Option<u32> {
    let mut value: u32 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*position)?;
        *position = position.checked_add(1)?;
        let bits = u32::from(byte & 0x7f);
        value |= bits.checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Why a module was refused before parsing.
pub(crate) fn check(bytes: &[u8]) -> Result<(), &'static str> {
    let mut position = HEADER_BYTES;
    while position < bytes.len() {
        let Some(&id) = bytes.get(position) else {
            return Ok(());
        };
        position += 1;
        let Some(size) = read_u32(bytes, &mut position) else {
            return Ok(());
        };
        let declared_end = position.saturating_add(size as usize);
        if id == CODE_SECTION {
            // Checked even when the section runs past the input: wasmi uses
            // the declared size before it has the bytes.
            let mut inner = position;
            let Some(count) = read_u32(bytes, &mut inner) else {
                return Ok(());
            };
            if count == 0 && inner != declared_end {
                return Err("code section declares no functions but has a body");
            }
        }
        if declared_end > bytes.len() {
            return Ok(());
        }
        position = declared_end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_code_section_with_body_and_passes_the_rest() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        assert_eq!(check(&module), Ok(()));
        module.extend_from_slice(&[10, 1, 0]);
        assert_eq!(check(&module), Ok(()));
        module[9] = 3;
        module.extend_from_slice(&[0, 0]);
        assert!(check(&module).is_err());
        assert_eq!(check(b"\0asm\x01\0\0\0\x0a\xff\xff\xff\xff\xff"), Ok(()));
        assert_eq!(check(b""), Ok(()));
        assert_eq!(check(b"\0asm\x01\0\0\0\x0a\x05\x01"), Ok(()));
        // Declared longer than the input, still refused (found by the corpus).
        assert!(check(b"\0asm\x01\0\0\0\x0a\xec\x3d\x00").is_err());
    }
}
