//! Which answer a request gets, and the answers of the routes that are
//! rendered at once.
//!
//! | Request | Answer |
//! | --- | --- |
//! | `GET /` | the status page (HTML) |
//! | `GET /api/ps` | `{"status", "modules", "processes"}` |
//! | `GET /api/log` | `{"faults"}` |
//! | `GET /api/caps/NAME` | `{"module", "state", "generation", "capabilities"}`; 404 for an unknown NAME |
//! | `GET /download/N` | N bytes of the download pattern (N up to 1 GiB) |
//! | `POST /upload` | `{"bytes", "fnv1a"}` of the body (a Content-Length up to 1 GiB) |
//!
//! Any other path is 404; a method other than GET and POST, or the other
//! one of the two on a route, is 405; every error's body is
//! `{"error":"WHY"}`.

use crate::body::Body;
use crate::html;
use crate::json;
use crate::request::{BadRequest, Head, Method, parse_decimal};
use crate::response::{self, ContentType, Status};
use crate::supervisor_client::{self, CapabilitiesPart, Failure, SupervisorServer};
use crate::transfer::{MAX_TRANSFER_BYTES, Pattern};
use cella_sdk::TextBuffer;
use cella_sdk::interfaces::supervisor::SupervisorError;
use core::fmt::Write;

/// The longest module name `/api/caps/NAME` takes.
pub const MAX_NAME_BYTES: usize = 64;

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    Page,
    Ps,
    Log,
    Capabilities(&'a str),
    Download(u64),
    /// Read a body of this many bytes, then answer its length and hash.
    Upload(u64),
    /// An error answer at once.
    Refused(Status, &'static str),
}

/// The route of a request head.
pub fn route<'a>(head: &Head<'a>) -> Route<'a> {
    let path = head.path;
    let wanted = if path == "/upload" {
        Method::Post
    } else {
        Method::Get
    };
    let known = matches!(path, "/" | "/api/ps" | "/api/log" | "/upload")
        || path.starts_with("/api/caps/")
        || path.starts_with("/download/");
    if head.method == Method::Other || (known && head.method != wanted) {
        return Route::Refused(
            Status::MethodNotAllowed,
            "the method is not allowed here (GET, and POST for /upload)",
        );
    }
    match path {
        "/" => Route::Page,
        "/api/ps" => Route::Ps,
        "/api/log" => Route::Log,
        "/upload" => match head.content_length {
            None => Route::Refused(
                Status::BadRequest,
                "an upload needs a Content-Length (up to 1073741824 bytes)",
            ),
            Some(length) if length > MAX_TRANSFER_BYTES => Route::Refused(
                Status::PayloadTooLarge,
                "an upload is at most 1073741824 bytes",
            ),
            Some(length) => Route::Upload(length),
        },
        _ => {
            if let Some(name) = path.strip_prefix("/api/caps/") {
                if is_module_name(name) {
                    return Route::Capabilities(name);
                }
                return Route::Refused(Status::NotFound, "no such module");
            }
            if let Some(count) = path.strip_prefix("/download/") {
                return match parse_decimal(count) {
                    Some(count) if count <= MAX_TRANSFER_BYTES => Route::Download(count),
                    Some(_) => {
                        Route::Refused(Status::BadRequest, "a download is at most 1073741824 bytes")
                    }
                    None => Route::Refused(Status::NotFound, "not /download/N with a number N"),
                };
            }
            Route::Refused(Status::NotFound, "no such path")
        }
    }
}

/// Whether `name` can be a module's name: 1 to [`MAX_NAME_BYTES`] letters,
/// digits, `-`, `_` and `.`.
fn is_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
}

/// An answer: its head, a rendered body, and the download pattern that
/// follows the body (none for rendered answers).
pub struct Answer {
    pub head: TextBuffer<256>,
    pub body: Body,
    pub stream: Option<Pattern>,
}

impl Answer {
    /// An answer of `status` with the rendered `body`.
    pub fn rendered(status: Status, content: ContentType, body: Body) -> Answer {
        // A body that did not fit or found no memory is not sent cut.
        if body.overflowed() {
            return Answer::error(
                Status::InternalServerError,
                "the answer is larger than the server renders, or it had no memory for it",
            );
        }
        let mut head = TextBuffer::new();
        let _ = response::head(&mut head, status, content, body.len() as u64);
        Answer {
            head,
            body,
            stream: None,
        }
    }

    /// `{"error":"WHY"}` with `status`.
    pub fn error(status: Status, why: impl core::fmt::Display) -> Answer {
        let mut body = Body::new();
        let _ = json::error(&mut body, why);
        let mut head = TextBuffer::new();
        let _ = response::head(&mut head, status, ContentType::Json, body.len() as u64);
        Answer {
            head,
            body,
            stream: None,
        }
    }

    /// A 400 for a request head that does not read.
    pub fn bad_request(bad: BadRequest) -> Answer {
        Answer::error(Status::BadRequest, bad)
    }

    /// `N` bytes of the download pattern.
    pub fn download(count: u64) -> Answer {
        let mut head = TextBuffer::new();
        let _ = response::head(&mut head, Status::Ok, ContentType::Bytes, count);
        Answer {
            head,
            body: Body::new(),
            stream: Some(Pattern::new(count)),
        }
    }

    /// The answer to an upload of `bytes` bytes whose FNV-1a is `hash`.
    pub fn uploaded(bytes: u64, hash: u32) -> Answer {
        let mut body = Body::new();
        let _ = write!(body, "{{\"bytes\":{bytes},\"fnv1a\":\"{hash:08x}\"}}");
        Answer::rendered(Status::Ok, ContentType::Json, body)
    }
}

/// The answer of a route that does not read a body (every route but an
/// upload's).
pub fn answer(route: &Route<'_>, supervisor: &impl SupervisorServer) -> Answer {
    let rendered = match *route {
        Route::Page => page(supervisor).map(|body| (ContentType::Html, body)),
        Route::Ps => ps(supervisor).map(|body| (ContentType::Json, body)),
        Route::Log => log(supervisor).map(|body| (ContentType::Json, body)),
        Route::Capabilities(name) => capabilities(supervisor, name).map(|b| (ContentType::Json, b)),
        Route::Download(count) => return Answer::download(count),
        Route::Upload(_) => {
            return Answer::error(
                Status::InternalServerError,
                "an upload is answered after its body",
            );
        }
        Route::Refused(status, why) => return Answer::error(status, why),
    };
    match rendered {
        Ok((content, body)) => Answer::rendered(Status::Ok, content, body),
        Err(Failure::Supervisor(SupervisorError::NotFound)) => {
            Answer::error(Status::NotFound, "no such module")
        }
        Err(failure) => Answer::error(Status::ServiceUnavailable, failure),
    }
}

/// Writes `,` before every item but the first.
struct Separator(bool);

impl Separator {
    fn next(&mut self, out: &mut Body) {
        if core::mem::replace(&mut self.0, true) {
            let _ = out.write_char(',');
        }
    }
}

/// `/api/ps`.
pub fn ps(supervisor: &impl SupervisorServer) -> Result<Body, Failure> {
    let status = supervisor_client::status(supervisor)?;
    let mut out = Body::new();
    let _ = out.write_str("{\"status\":");
    let _ = json::status(&mut out, &status);
    let _ = out.write_str(",\"modules\":[");
    let mut separator = Separator(false);
    supervisor_client::modules(supervisor, |row| {
        separator.next(&mut out);
        let _ = json::module(&mut out, row);
    })?;
    let _ = out.write_str("],\"processes\":[");
    let mut separator = Separator(false);
    supervisor_client::processes(supervisor, |row| {
        separator.next(&mut out);
        let _ = json::process(&mut out, row);
    })?;
    let _ = out.write_str("]}");
    Ok(out)
}

/// `/api/log`.
pub fn log(supervisor: &impl SupervisorServer) -> Result<Body, Failure> {
    let mut out = Body::new();
    let _ = out.write_str("{\"faults\":[");
    let mut separator = Separator(false);
    supervisor_client::faults(supervisor, |row| {
        separator.next(&mut out);
        let _ = json::fault(&mut out, row);
    })?;
    let _ = out.write_str("]}");
    Ok(out)
}

/// `/api/caps/NAME`.
pub fn capabilities(supervisor: &impl SupervisorServer, name: &str) -> Result<Body, Failure> {
    let mut out = Body::new();
    let mut separator = Separator(false);
    supervisor_client::capabilities(supervisor, name, |part| match part {
        CapabilitiesPart::Head(head) => {
            let _ = out.write_str("{\"module\":");
            let _ = json::string(&mut out, head.module);
            let _ = out.write_str(",\"state\":");
            let _ = json::string(&mut out, head.state);
            let _ = write!(
                out,
                ",\"generation\":{},\"capabilities\":[",
                head.generation
            );
        }
        CapabilitiesPart::Row(row) => {
            separator.next(&mut out);
            let _ = json::capability(&mut out, row);
        }
    })?;
    let _ = out.write_str("]}");
    Ok(out)
}

/// `/`: the status page. A table the supervisor does not answer says so
/// in a row; the page is still served.
pub fn page(supervisor: &impl SupervisorServer) -> Result<Body, Failure> {
    let mut out = Body::new();
    let status = supervisor_client::status(supervisor).ok();
    let _ = html::start(&mut out, status.as_ref());
    let _ = html::modules_start(&mut out);
    let mut count = 0;
    let read = supervisor_client::modules(supervisor, |row| {
        count += 1;
        let _ = html::module(&mut out, row);
    });
    note(
        &mut out,
        html::MODULE_COLUMN_COUNT,
        count,
        read,
        "No modules.",
    );
    let _ = html::table_end(&mut out);
    let _ = html::processes_start(&mut out);
    let mut count = 0;
    let read = supervisor_client::processes(supervisor, |row| {
        count += 1;
        let _ = html::process(&mut out, row);
    });
    note(&mut out, 2, count, read, "No native processes.");
    let _ = html::table_end(&mut out);
    let _ = html::faults_start(&mut out);
    // The latest faults only: count them, then show the last few.
    let mut total: usize = 0;
    let counted = supervisor_client::faults(supervisor, |_| total += 1);
    let skip = total.saturating_sub(html::MAX_FAULTS_SHOWN);
    let mut index = 0;
    let read = counted.and_then(|()| {
        supervisor_client::faults(supervisor, |row| {
            if index >= skip {
                let _ = html::fault(&mut out, row);
            }
            index += 1;
        })
    });
    note(&mut out, 5, index.min(total), read, "No faults recorded.");
    let _ = html::table_end(&mut out);
    let _ = html::end(&mut out);
    Ok(out)
}

/// A row for a table with no rows (`empty`) or that could not be read.
fn note(out: &mut Body, columns: usize, rows: usize, read: Result<(), Failure>, empty: &str) {
    let mut why = TextBuffer::<160>::new();
    match read {
        Err(failure) => {
            let _ = write!(why, "The supervisor did not answer: {failure}");
        }
        Ok(()) if rows == 0 => why.push_str(empty),
        Ok(()) => return,
    }
    let _ = html::note_row(out, columns, why.as_str());
}

#[cfg(test)]
mod tests;
