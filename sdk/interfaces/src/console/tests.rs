use super::*;
use crate::wire::WireError;

/// What a console server was told, in order.
struct Told {
    typed: [u8; 256],
    typed_length: usize,
    redraws: usize,
}

impl Default for Told {
    fn default() -> Self {
        Told {
            typed: [0; 256],
            typed_length: 0,
            redraws: 0,
        }
    }
}

impl Server for Told {
    fn input(&mut self, text: &str) {
        let end = self.typed_length + text.len();
        self.typed[self.typed_length..end].copy_from_slice(text.as_bytes());
        self.typed_length = end;
    }

    fn redraw(&mut self) {
        self.redraws += 1;
    }
}

#[test]
fn input_and_redraws_reach_the_server_typed() {
    let mut told = Told::default();
    let mut request = [0; 64];
    let length = input::request(&mut request, "ps\r").unwrap();
    assert_eq!(serve(&mut told, &request[..length], &mut []), Ok(0));
    let length = input::request(&mut request, "é\u{8}").unwrap();
    serve(&mut told, &request[..length], &mut []).unwrap();
    assert_eq!(&told.typed[..told.typed_length], "ps\ré\u{8}".as_bytes());
    let length = redraw::request(&mut request).unwrap();
    assert_eq!(&request[..length], b"redraw");
    serve(&mut told, &request[..length], &mut []).unwrap();
    assert_eq!(told.redraws, 1);
    assert!(OPERATIONS.iter().all(|operation| !operation.answers));
    assert_eq!(idempotent(b"redraw"), Some(true));
    assert_eq!(idempotent(b"input\0\x00\x00"), Some(false));
}

#[test]
fn bad_input_is_refused_and_tells_the_server_nothing() {
    let mut told = Told::default();
    let bad: [(&[u8], WireError); 6] = [
        (b"ps\r", WireError::UnknownOperation),
        (b"\x02Sdone", WireError::UnknownOperation),
        (b"input\0\x02\x00\xc3", WireError::Truncated),
        (b"input\0\x01\x00\xff", WireError::BadValue),
        (b"answer\0\x01\x00x\x01", WireError::UnknownOperation),
        (b"redraw\0x", WireError::TrailingBytes),
    ];
    for round in 0..100 {
        for (bytes, error) in bad {
            assert_eq!(
                serve(&mut told, bytes, &mut []),
                Err(error),
                "round {round}"
            );
        }
    }
    assert_eq!((told.typed_length, told.redraws), (0, 0));
}

#[test]
fn the_longest_input_fits_one_message() {
    let text = [b'a'; MAX_INPUT_BYTES];
    let text = core::str::from_utf8(&text).unwrap();
    let mut request = [0; 4097];
    assert_eq!(
        input::request(&mut request, text),
        Ok(cella_abi::MAX_MESSAGE_BYTES as usize)
    );
}

#[test]
fn a_person_types_input_from_the_shell() {
    let mut buffer = [0; 64];
    let length = crate::request_from_text("console", "input hello", &mut buffer)
        .unwrap()
        .unwrap();
    let mut told = Told::default();
    serve(&mut told, &buffer[..length], &mut []).unwrap();
    assert_eq!(&told.typed[..told.typed_length], b"hello");
    let mut text = crate::Text::default();
    crate::render_reply("console", &buffer[..length], &[], &mut text)
        .unwrap()
        .unwrap();
    assert_eq!(text.as_str(), "done");
    assert_eq!(
        request_from_text("type hello", &mut buffer),
        Err(WireError::UnknownOperation)
    );
}
