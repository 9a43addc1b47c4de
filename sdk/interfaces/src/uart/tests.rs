use super::*;
use crate::wire::WireError;
use core::fmt::Write as _;

/// A line that keeps what is written to it.
struct Line {
    bytes: [u8; MAX_WRITE_BYTES],
    length: usize,
    writes: usize,
}

impl Server for Line {
    fn write(&mut self, bytes: Bytes<'_>) {
        self.bytes[self.length..self.length + bytes.0.len()].copy_from_slice(bytes.0);
        self.length += bytes.0.len();
        self.writes += 1;
    }
}

impl Default for Line {
    fn default() -> Self {
        Line {
            bytes: [0; MAX_WRITE_BYTES],
            length: 0,
            writes: 0,
        }
    }
}

#[test]
fn a_write_carries_its_bytes_exactly_and_is_not_answered() {
    let mut line = Line::default();
    let mut request = [0; 4096];
    let text = b"INFO  boot: \x1b[1mhello\x1b[0m\r\n\x00\xff";
    let length = write::request(&mut request, Bytes(text)).unwrap();
    assert_eq!(length, text.len() + WRITE_OVERHEAD);
    assert_eq!(&request[..6], b"write\0");
    assert_eq!(written(&request[..length]), Ok(&text[..]));
    let answered = serve(&mut line, &request[..length], &mut [0; 16]).unwrap();
    assert_eq!(answered, 0, "a one-way operation has no answer");
    assert_eq!(&line.bytes[..line.length], text);
    assert_eq!(OPERATIONS.len(), 1);
    assert!(!OPERATIONS[0].answers && !OPERATIONS[0].idempotent);
    assert_eq!(idempotent(&request[..length]), Some(false));
}

#[test]
fn the_largest_write_fits_one_message_and_one_more_byte_does_not() {
    let mut request = [0; 4096];
    let most = [b'x'; MAX_WRITE_BYTES];
    assert_eq!(
        write::request(&mut request, Bytes(&most)),
        Ok(cella_abi::MAX_MESSAGE_BYTES as usize)
    );
    let mut line = Line::default();
    serve(&mut line, &request, &mut []).unwrap();
    assert_eq!(line.length, MAX_WRITE_BYTES);
    let too_many = [b'x'; MAX_WRITE_BYTES + 1];
    assert_eq!(
        write::request(&mut request, Bytes(&too_many)),
        Err(WireError::Full)
    );
}

#[test]
fn bytes_that_are_not_a_write_are_refused_and_write_nothing() {
    let mut line = Line::default();
    let mut request = [0; 64];
    let length = write::request(&mut request, Bytes(b"hello")).unwrap();
    let whole = &request[..length];
    // Raw text, another operation, a short length, a cut message, extra bytes.
    let mut longer = [0; 64];
    longer[..length].copy_from_slice(whole);
    let bad: [(&[u8], WireError); 6] = [
        (b"hello", WireError::UnknownOperation),
        (b"read\0\x01\x00x", WireError::UnknownOperation),
        (b"write", WireError::Truncated),
        (b"write\0\x05\x00hel", WireError::Truncated),
        (&whole[..length - 1], WireError::Truncated),
        (&longer[..length + 1], WireError::TrailingBytes),
    ];
    for round in 0..100 {
        for (bytes, error) in bad {
            assert_eq!(
                serve(&mut line, bytes, &mut []),
                Err(error),
                "round {round}"
            );
            assert_eq!(written(bytes), Err(error), "round {round}");
        }
    }
    assert_eq!((line.length, line.writes), (0, 0));
    serve(&mut line, whole, &mut []).unwrap();
    assert_eq!(&line.bytes[..line.length], b"hello");
}

#[test]
fn a_person_writes_a_word_and_reads_that_it_was_done() {
    let mut buffer = [0; 64];
    let length = crate::request_from_text("uart", "write hello", &mut buffer)
        .unwrap()
        .unwrap();
    assert_eq!(written(&buffer[..length]), Ok(&b"hello"[..]));
    assert_eq!(
        request_from_text("write", &mut buffer),
        Err(WireError::BadArgument)
    );
    assert_eq!(
        request_from_text("write two words", &mut buffer),
        Err(WireError::BadArgument)
    );
    assert_eq!(
        request_from_text("read", &mut buffer),
        Err(WireError::UnknownOperation)
    );
    let mut text = crate::Text::default();
    crate::render_reply("uart", &buffer[..length], &[], &mut text)
        .unwrap()
        .unwrap();
    assert_eq!(text.as_str(), "done");
    let mut text = crate::Text::default();
    assert_eq!(
        render_reply(&buffer[..length], &[1], &mut text),
        Err(WireError::TrailingBytes)
    );
    let mut rendered = crate::Text::default();
    Bytes(b"abc").render(&mut rendered).unwrap();
    write!(rendered, ".").unwrap();
    assert_eq!(rendered.as_str(), "3 bytes.");
}
