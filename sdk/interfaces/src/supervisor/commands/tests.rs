extern crate std;

use super::*;
use crate::supervisor::{SupervisorError, report_page, run};

#[test]
fn run_and_report_page_requests_decode_to_what_was_encoded() {
    let mut request = [0; 256];
    let length = run::request(&mut request, "swap uart16550 /modules/uart.wasm").unwrap();
    assert_eq!(
        CommandRequest::decode(&request[..length]),
        Some(Ok(CommandRequest::Run {
            line: "swap uart16550 /modules/uart.wasm"
        }))
    );
    let length = report_page::request(&mut request, 7).unwrap();
    assert_eq!(
        CommandRequest::decode(&request[..length]),
        Some(Ok(CommandRequest::ReportPage { page: 7 }))
    );
    // The reading operations are not commands.
    let length = crate::supervisor::status::request(&mut request).unwrap();
    assert_eq!(CommandRequest::decode(&request[..length]), None);
    assert_eq!(CommandRequest::decode(b"restart shell"), None);
}

#[test]
fn bad_bytes_of_a_command_request_are_refused() {
    for (bytes, error) in [
        // No argument at all, or cut inside its length or text.
        (&b"run"[..], WireError::Truncated),
        (b"run\0\x05", WireError::Truncated),
        (b"run\0\x05\0ab", WireError::Truncated),
        // Text that is not UTF-8.
        (b"run\0\x02\0\xff\xfe", WireError::BadValue),
        // Bytes after the argument.
        (b"run\0\x02\0psX", WireError::TrailingBytes),
        (b"report_page\0\x01\0\0", WireError::Truncated),
        (b"report_page\0\x01\0\0\0\0", WireError::TrailingBytes),
    ] {
        assert_eq!(CommandRequest::decode(bytes), Some(Err(error)), "{bytes:?}");
    }
}

#[test]
fn an_answer_decodes_to_what_was_encoded_and_bad_bytes_are_refused() {
    let answer = CommandAnswer {
        succeeded: false,
        page: 2,
        next: 3,
        text: "error: no module named `x`\n",
    };
    let mut reply = [0; 128];
    let length = crate::wire::encode(&Ok::<_, SupervisorError>(answer), &mut reply).unwrap();
    assert_eq!(run::reply(&reply[..length]), Ok(Ok(answer)));
    assert_eq!(report_page::reply(&reply[..length]), Ok(Ok(answer)));
    // Cut anywhere, it does not decode; a bool of 2 is no bool.
    for end in 0..length {
        assert!(run::reply(&reply[..end]).is_err(), "cut at {end}");
    }
    let mut bad = reply;
    bad[1] = 2;
    assert_eq!(run::reply(&bad[..length]), Err(WireError::BadValue));
    let mut refused = [0; 8];
    let length = crate::wire::encode(
        &Err::<CommandAnswer<'_>, _>(SupervisorError::NoReport),
        &mut refused,
    )
    .unwrap();
    assert_eq!(
        report_page::reply(&refused[..length]),
        Ok(Err(SupervisorError::NoReport))
    );
}

#[test]
fn a_long_text_is_cut_into_pages_that_hold_all_of_it_in_order() {
    // 3 pages and a bit, with a two-byte character across each cut.
    let mut text = std::string::String::new();
    while text.len() < 3 * ANSWER_TEXT_BYTES + 100 {
        text.push_str("row é\n");
    }
    let mut joined = std::string::String::new();
    let mut page = 0;
    let mut pages = 0;
    loop {
        let (piece, next) = text_page(&text, page).unwrap();
        assert!(piece.len() <= ANSWER_TEXT_BYTES);
        assert!(!piece.is_empty());
        joined.push_str(piece);
        pages += 1;
        if next == 0 {
            break;
        }
        assert_eq!(next, page + 1);
        page = next;
    }
    assert_eq!(pages, 4);
    assert_eq!(joined, text);
    assert_eq!(text_page(&text, 4), None);
    assert_eq!(text_page("", 0), Some(("", 0)));
    assert_eq!(text_page("", 1), None);
    assert_eq!(text_page("ok\n", 0), Some(("ok\n", 0)));
}
