//! A small HTTP/1.1 client for what talks to a guest's HTTP server through a port of the
//! host's loopback that QEMU forwards to the guest (the QEMU tests, `cella bench`'s network
//! benchmark): one request a connection
//! (`Connection: close`), the body read to its `Content-Length`, every failure a sentence
//! saying how far the exchange got.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

/// The largest response head read.
const HEAD_LIMIT: usize = 16 * 1024;
/// Bytes written or read at a time.
const CHUNK: usize = 64 * 1024;

/// An answer: its status code, its head as text and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn connect(port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .map_err(|error| format!("cannot connect to 127.0.0.1:{port}: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| format!("cannot set timeouts: {error}"))?;
    Ok(stream)
}

/// `GET path` on the guest's server at `port` of the loopback.
///
/// # Errors
/// A sentence when the connection, the request or the answer fails.
pub fn get(port: u16, path: &str, timeout: Duration) -> Result<Response, String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    send_and_read(port, request.as_bytes(), path, timeout)
}

/// Sends `request` as it is (any bytes: a test's malformed request too) and reads the
/// answer; errors name the request by its first line.
///
/// # Errors
/// A sentence when the connection, the request or the answer fails.
pub fn exchange(port: u16, request: &[u8], timeout: Duration) -> Result<Response, String> {
    let first_line = request
        .split(|byte| *byte == b'\r')
        .next()
        .unwrap_or_default();
    send_and_read(port, request, &String::from_utf8_lossy(first_line), timeout)
}

/// Sends `request` and reads the answer; errors start with `label`.
fn send_and_read(
    port: u16,
    request: &[u8],
    label: &str,
    timeout: Duration,
) -> Result<Response, String> {
    let mut stream = connect(port, timeout)?;
    stream
        .write_all(request)
        .map_err(|error| format!("{label}: sending the request: {error}"))?;
    read_response(&mut stream, label)
}

/// `POST path` with a body of `length` bytes, `fill(offset, chunk)` writing each chunk's
/// bytes (offset from the body's start), sent in 64 KiB writes.
///
/// # Errors
/// A sentence when the connection, the request or the answer fails.
pub fn post(
    port: u16,
    path: &str,
    length: u64,
    mut fill: impl FnMut(u64, &mut [u8]),
    timeout: Duration,
) -> Result<Response, String> {
    let mut stream = connect(port, timeout)?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .map_err(|error| format!("POST {path}: sending the head: {error}"))?;
    let mut chunk = vec![0u8; CHUNK];
    let mut sent = 0u64;
    while sent < length {
        let size = (length - sent).min(CHUNK as u64) as usize;
        fill(sent, &mut chunk[..size]);
        stream
            .write_all(&chunk[..size])
            .map_err(|error| format!("POST {path}: after {sent} of {length} bytes: {error}"))?;
        sent += size as u64;
    }
    read_response(&mut stream, path)
}

/// Reads an answer: the head up to its blank line, then `Content-Length` bytes (or up to
/// the end of the connection when the head names no length).
fn read_response(stream: &mut TcpStream, path: &str) -> Result<Response, String> {
    let mut received = Vec::new();
    let mut buffer = vec![0u8; CHUNK];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        if received.len() > HEAD_LIMIT {
            return Err(format!(
                "{path}: an answer head longer than {HEAD_LIMIT} bytes"
            ));
        }
        let count = read_some(stream, &mut buffer, path, received.len(), None)?;
        if count == 0 {
            return Err(format!(
                "{path}: the server closed the connection after {} bytes of the answer's head",
                received.len()
            ));
        }
        received.extend_from_slice(&buffer[..count]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("{path}: no status code in the answer: {head:?}"))?;
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    let mut body = received.split_off(head_end);
    loop {
        if length.is_some_and(|length| body.len() >= length) {
            break;
        }
        let count = read_some(stream, &mut buffer, path, body.len(), length)?;
        if count == 0 {
            if let Some(length) = length {
                return Err(format!(
                    "{path}: the server closed the connection after {} of {length} body bytes",
                    body.len()
                ));
            }
            break;
        }
        body.extend_from_slice(&buffer[..count]);
    }
    if let Some(length) = length {
        body.truncate(length);
    }
    Ok(Response { status, head, body })
}

fn read_some(
    stream: &mut TcpStream,
    buffer: &mut [u8],
    path: &str,
    so_far: usize,
    expected: Option<usize>,
) -> Result<usize, String> {
    loop {
        match stream.read(buffer) {
            Ok(count) => return Ok(count),
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => {
                let of = expected
                    .map(|length| format!(" of {length}"))
                    .unwrap_or_default();
                return Err(format!("{path}: after {so_far}{of} bytes: {error}"));
            }
        }
    }
}
