//! An answer's status line and header fields. Every answer has a
//! `Content-Length` and `Connection: close`: the server answers one
//! request a connection and then closes it.

use core::fmt::{Result, Write};

/// The statuses the server answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    InternalServerError,
    ServiceUnavailable,
}

impl Status {
    /// The code.
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::PayloadTooLarge => 413,
            Status::InternalServerError => 500,
            Status::ServiceUnavailable => 503,
        }
    }

    /// The reason phrase.
    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::PayloadTooLarge => "Payload Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::ServiceUnavailable => "Service Unavailable",
        }
    }
}

/// What a body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    Html,
    Json,
    /// The download pattern.
    Bytes,
}

impl ContentType {
    fn text(self) -> &'static str {
        match self {
            ContentType::Html => "text/html; charset=utf-8",
            ContentType::Json => "application/json",
            ContentType::Bytes => "application/octet-stream",
        }
    }
}

/// Writes the status line and header fields of an answer with a body of
/// `length` bytes, the blank line included.
pub fn head(out: &mut impl Write, status: Status, content: ContentType, length: u64) -> Result {
    write!(
        out,
        "HTTP/1.1 {} {}\r\nServer: cella-httpd\r\nContent-Type: {}\r\nContent-Length: {length}\r\n\
Cache-Control: no-store\r\nConnection: close\r\n",
        status.code(),
        status.reason(),
        content.text()
    )?;
    if status == Status::MethodNotAllowed {
        out.write_str("Allow: GET, POST\r\n")?;
    }
    out.write_str("\r\n")
}
