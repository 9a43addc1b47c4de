use super::*;

fn complete(bytes: &[u8]) -> (Head<'_>, usize) {
    match parse(bytes) {
        Parsed::Complete(head, length) => (head, length),
        other => panic!("not a whole head: {other:?}"),
    }
}

#[test]
fn a_head_reads_with_its_path_and_length() {
    let bytes = b"POST /upload?x=1 HTTP/1.1\r\nHost: a\r\ncontent-length:  12 \r\n\r\nbody";
    let (head, length) = complete(bytes);
    assert_eq!(head.method, Method::Post);
    assert_eq!(head.path, "/upload");
    assert_eq!(head.content_length, Some(12));
    assert_eq!(&bytes[length..], b"body");
    let (head, _) = complete(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(
        (head.method, head.path, head.content_length),
        (Method::Get, "/", None)
    );
    let (head, _) = complete(b"DELETE /x HTTP/1.1\r\n\r\n");
    assert_eq!(head.method, Method::Other);
}

#[test]
fn a_head_split_anywhere_is_incomplete_until_its_blank_line() {
    let bytes = b"GET /api/ps HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\n\r\n";
    for cut in 0..bytes.len() {
        assert_eq!(parse(&bytes[..cut]), Parsed::Incomplete, "cut at {cut}");
    }
    assert_eq!(complete(bytes).1, bytes.len());
}

#[test]
fn bad_heads_are_refused_with_their_reason() {
    let cases: &[(&[u8], BadRequest)] = &[
        (b"\r\n\r\n", BadRequest::RequestLine),
        (b"GET /\r\n\r\n", BadRequest::RequestLine),
        (b"get / HTTP/1.1\r\n\r\n", BadRequest::RequestLine),
        (b"GET  / HTTP/1.1\r\n\r\n", BadRequest::RequestLine),
        (b"GET / HTTP/1.1 extra\r\n\r\n", BadRequest::RequestLine),
        (b"GET / HTTP/2.0\r\n\r\n", BadRequest::Version),
        (b"GET / FTP/1.0\r\n\r\n", BadRequest::RequestLine),
        (b"GET x HTTP/1.1\r\n\r\n", BadRequest::Target),
        (b"GET /\x01 HTTP/1.1\r\n\r\n", BadRequest::Target),
        (
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            BadRequest::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
            BadRequest::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\nA: \xff\xfe\r\n\r\n",
            BadRequest::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n",
            BadRequest::HeaderField,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            BadRequest::ContentLength,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n",
            BadRequest::ContentLength,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            BadRequest::ContentLength,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            BadRequest::ContentLength,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            BadRequest::TransferEncoding,
        ),
    ];
    for (bytes, reason) in cases {
        assert_eq!(
            parse(bytes),
            Parsed::Bad(*reason),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
    // Two equal lengths are one length.
    let (head, _) = complete(b"POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n");
    assert_eq!(head.content_length, Some(3));
}

#[test]
fn a_head_past_8_kib_is_refused_and_one_at_the_limit_is_read() {
    let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
    long.resize(MAX_HEAD_BYTES, b'a');
    // No blank line within the limit: refused at once, whatever follows.
    assert_eq!(parse(&long), Parsed::Bad(BadRequest::HeadTooLong));
    long.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parse(&long), Parsed::Bad(BadRequest::HeadTooLong));
    // Exactly the limit, blank line included.
    let mut fits = b"GET / HTTP/1.1\r\nX: ".to_vec();
    fits.resize(MAX_HEAD_BYTES - 4, b'a');
    fits.extend_from_slice(b"\r\n\r\n");
    assert_eq!(complete(&fits).1, MAX_HEAD_BYTES);
    // One byte short of the limit and no blank line yet: more may come.
    assert_eq!(parse(&fits[..MAX_HEAD_BYTES - 1]), Parsed::Incomplete);
}

#[test]
fn random_bytes_never_panic_and_never_read_as_a_head_by_chance() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"GET POST/ HTTP/1.1\r\n:Content-Length0123456789\x00\xff";
    for round in 0..20_000 {
        let length = (next() % 200) as usize;
        let bytes: Vec<u8> = (0..length)
            .map(|_| {
                let value = next();
                if round % 2 == 0 {
                    alphabet[(value % alphabet.len() as u64) as usize]
                } else {
                    value as u8
                }
            })
            .collect();
        if let Parsed::Complete(head, length) = parse(&bytes) {
            // Anything read as a head is one: a path and a blank line.
            assert!(head.path.starts_with('/'));
            assert_eq!(&bytes[length - 4..length], b"\r\n\r\n");
        }
    }
}

#[test]
fn bytes_that_cannot_start_a_request_are_refused_as_they_arrive() {
    for start in [
        &b"\x16\x03\x01"[..],
        b"get",
        b" GET",
        b"G3T",
        b"GET /\r\n",
        b"GET / HTTP/1.1 x\r\n",
    ] {
        assert!(
            matches!(parse(start), Parsed::Bad(_)),
            "{}",
            String::from_utf8_lossy(start)
        );
    }
    assert_eq!(
        parse(b"AVERYLONGMETHODNAME"),
        Parsed::Bad(BadRequest::RequestLine)
    );
    // A good start waits for the rest.
    for start in [
        &b""[..],
        b"G",
        b"POST",
        b"GET /x",
        b"GET / HTTP/1.1\r\n",
        b"GET / HTTP/1.1\r\nHost: a",
    ] {
        assert_eq!(
            parse(start),
            Parsed::Incomplete,
            "{}",
            String::from_utf8_lossy(start)
        );
    }
}
