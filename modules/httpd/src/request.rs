//! The HTTP/1.x request head: the request line and the header fields up to
//! the blank line, read from the bytes that arrived so far.
//!
//! [`parse`] answers [`Parsed::Incomplete`] until the blank line arrives,
//! then the head and how many bytes it took (the body starts there). A
//! head longer than [`MAX_HEAD_BYTES`], bytes that are not a request line
//! or header fields, a version other than HTTP/1.0 and 1.1, a
//! `Content-Length` that is not one decimal number, and any
//! `Transfer-Encoding` (bodies are sent with a length) are a
//! [`BadRequest`] with the reason. Only `Content-Length` is kept of the
//! header fields.

use core::fmt;

/// The most bytes of a request head, the blank line included.
pub const MAX_HEAD_BYTES: usize = 8192;
/// The most characters of a request's target (path and query).
pub const MAX_TARGET_BYTES: usize = 1024;

/// A request's method, as far as the router cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    /// Any other token (`HEAD`, `PUT`, `DELETE`, ...): answered 405.
    Other,
}

/// A parsed request head; `target` borrows the received bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head<'a> {
    pub method: Method,
    /// The path, without the query (`?...`).
    pub path: &'a str,
    /// The body's length from `Content-Length`, if the head gave one.
    pub content_length: Option<u64>,
}

/// Why a request head is refused (400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRequest {
    /// No blank line within [`MAX_HEAD_BYTES`].
    HeadTooLong,
    /// The first line is not `METHOD TARGET HTTP/1.x`.
    RequestLine,
    /// The version is not HTTP/1.0 or HTTP/1.1.
    Version,
    /// The target does not start with `/`, is too long or holds bytes a
    /// path does not.
    Target,
    /// A header line is not `Name: value`, or holds bytes that are not
    /// text.
    HeaderField,
    /// `Content-Length` is not one decimal number, or two disagree.
    ContentLength,
    /// A `Transfer-Encoding` field: only bodies with a length are read.
    TransferEncoding,
}

impl fmt::Display for BadRequest {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(match self {
            BadRequest::HeadTooLong => "the request head is longer than 8192 bytes",
            BadRequest::RequestLine => "the request line is not `METHOD TARGET HTTP/1.x`",
            BadRequest::Version => "only HTTP/1.0 and HTTP/1.1 are served",
            BadRequest::Target => "the target is not a path starting with `/`",
            BadRequest::HeaderField => "a header line is not `Name: value`",
            BadRequest::ContentLength => "Content-Length is not one decimal number",
            BadRequest::TransferEncoding => {
                "Transfer-Encoding is not supported; send the body with a Content-Length"
            }
        })
    }
}

/// What the bytes so far are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// No blank line yet, and room for more.
    Incomplete,
    /// A whole head, and the bytes it took (the body follows them).
    Complete(Head<'a>, usize),
    /// Not a request this server reads.
    Bad(BadRequest),
}

/// The longest method token taken.
const MAX_METHOD_BYTES: usize = 16;

/// Reads the request head at the start of `bytes`. Bytes that cannot
/// start a request (a method that is not capital letters, a first line
/// that does not read) are refused as soon as they arrive, not when the
/// blank line or the size limit comes.
pub fn parse(bytes: &[u8]) -> Parsed<'_> {
    if let Err(bad) = check_start(bytes) {
        return Parsed::Bad(bad);
    }
    let Some(end) = find_blank_line(bytes) else {
        return if bytes.len() >= MAX_HEAD_BYTES {
            Parsed::Bad(BadRequest::HeadTooLong)
        } else {
            Parsed::Incomplete
        };
    };
    let length = end + 4;
    if length > MAX_HEAD_BYTES {
        return Parsed::Bad(BadRequest::HeadTooLong);
    }
    match parse_head(&bytes[..end]) {
        Ok(head) => Parsed::Complete(head, length),
        Err(bad) => Parsed::Bad(bad),
    }
}

/// Whether `bytes` can still become a request: the method so far is
/// capital letters, and a first line that has ended reads.
fn check_start(bytes: &[u8]) -> Result<(), BadRequest> {
    let method = bytes.iter().take_while(|byte| **byte != b' ').count();
    let method_bytes = &bytes[..method];
    if !method_bytes.iter().all(u8::is_ascii_uppercase)
        || method > MAX_METHOD_BYTES
        || (method == 0 && !bytes.is_empty())
    {
        return Err(BadRequest::RequestLine);
    }
    let window = &bytes[..bytes.len().min(MAX_HEAD_BYTES)];
    if let Some(end) = window.windows(2).position(|pair| pair == b"\r\n") {
        let line = core::str::from_utf8(&bytes[..end]).map_err(|_| BadRequest::RequestLine)?;
        request_line(line)?;
    }
    Ok(())
}

/// Where `\r\n\r\n` starts, looking at most [`MAX_HEAD_BYTES`] bytes.
fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    let window = &bytes[..bytes.len().min(MAX_HEAD_BYTES)];
    window.windows(4).position(|four| four == b"\r\n\r\n")
}

fn parse_head(head: &[u8]) -> Result<Head<'_>, BadRequest> {
    // Header values may carry any visible text; everything else must be ASCII.
    let text = core::str::from_utf8(head).map_err(|_| BadRequest::HeaderField)?;
    let mut lines = text.split("\r\n");
    let (method, target) = request_line(lines.next().ok_or(BadRequest::RequestLine)?)?;
    let path = target.split('?').next().unwrap_or(target);
    let mut content_length = None;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(BadRequest::HeaderField)?;
        if name.is_empty()
            || !name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&byte))
            || value
                .bytes()
                .any(|byte| byte.is_ascii_control() && byte != b'\t')
        {
            return Err(BadRequest::HeaderField);
        }
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(BadRequest::TransferEncoding);
        }
        if name.eq_ignore_ascii_case("content-length") {
            let length = parse_decimal(value).ok_or(BadRequest::ContentLength)?;
            if content_length.is_some_and(|earlier| earlier != length) {
                return Err(BadRequest::ContentLength);
            }
            content_length = Some(length);
        }
    }
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    Ok(Head {
        method,
        path,
        content_length,
    })
}

/// The method and target of a request line, `METHOD TARGET HTTP/1.x`.
fn request_line(line: &str) -> Result<(&str, &str), BadRequest> {
    let mut words = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(BadRequest::RequestLine);
    };
    if method.is_empty() || !method.bytes().all(|byte| byte.is_ascii_uppercase()) {
        return Err(BadRequest::RequestLine);
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(if version.starts_with("HTTP/") {
            BadRequest::Version
        } else {
            BadRequest::RequestLine
        });
    }
    if !target.starts_with('/')
        || target.len() > MAX_TARGET_BYTES
        || !target.bytes().all(|byte| byte.is_ascii_graphic())
    {
        return Err(BadRequest::Target);
    }
    Ok((method, target))
}

/// A decimal number of 1 to 19 digits (no sign, no spaces).
pub fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests;
