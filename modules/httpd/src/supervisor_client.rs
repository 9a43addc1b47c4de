//! The server's one source of data: the kernel's typed, read-only
//! `supervisor` endpoint (`cella_sdk::interfaces::supervisor`). Each table
//! is read page after page and its rows handed to a visitor as they are
//! decoded, so nothing is copied out of the answers; a page whose `next`
//! does not move forward ends the table, so a wrong answer cannot loop.

use cella_sdk::ErrorCode;
use cella_sdk::interfaces::supervisor::{
    self, CapabilityRow, FaultRow, ModuleRow, ProcessRow, Status, SupervisorError,
};
use cella_sdk::interfaces::wire::WireError;
use core::fmt;

/// One call to the `supervisor` endpoint, answered.
pub trait SupervisorServer {
    /// Sends `request` and returns the answer's part of `reply`.
    ///
    /// # Errors
    /// The call's failure.
    fn call<'r>(&self, request: &[u8], reply: &'r mut [u8]) -> Result<&'r [u8], ErrorCode>;
}

/// Why a table could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The supervisor's answer (`NotFound` for a module no one has).
    Supervisor(SupervisorError),
    /// The call failed.
    Call(ErrorCode),
    /// A request or answer did not encode or decode.
    Wire(WireError),
}

impl fmt::Display for Failure {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Supervisor(error) => write!(out, "{error}"),
            Failure::Call(error) => write!(out, "the call to the supervisor failed: {error}"),
            Failure::Wire(error) => write!(out, "the supervisor's answer made no sense: {error}"),
        }
    }
}

impl From<SupervisorError> for Failure {
    fn from(error: SupervisorError) -> Failure {
        Failure::Supervisor(error)
    }
}

impl From<WireError> for Failure {
    fn from(error: WireError) -> Failure {
        Failure::Wire(error)
    }
}

impl From<ErrorCode> for Failure {
    fn from(error: ErrorCode) -> Failure {
        Failure::Call(error)
    }
}

/// The request and answer buffers: one message.
const MESSAGE: usize = cella_sdk::MAX_MESSAGE_BYTES as usize;
/// The longest request (`capabilities` with a module name and a start).
const REQUEST: usize = 256;
/// The most pages one table is read in.
const MAX_PAGES: u32 = 4096;

/// Whether a page's `next` continues the table: forward, and not too far.
fn continues(start: u32, next: u32, pages: u32) -> bool {
    next > start && pages < MAX_PAGES
}

/// Reads a table page after page: `ask` encodes the request for the page
/// at a start row, `take` decodes its answer (told whether it is the
/// first page), hands its rows on and returns where the next page starts.
fn read_pages(
    server: &impl SupervisorServer,
    mut ask: impl FnMut(&mut [u8], u32) -> Result<usize, WireError>,
    mut take: impl FnMut(&[u8], bool) -> Result<u32, Failure>,
) -> Result<(), Failure> {
    let (mut request, mut reply) = ([0; REQUEST], [0; MESSAGE]);
    let (mut start, mut pages) = (0, 0);
    loop {
        let length = ask(&mut request, start)?;
        let answer = server.call(&request[..length], &mut reply)?;
        let next = take(answer, pages == 0)?;
        pages += 1;
        if !continues(start, next, pages) {
            return Ok(());
        }
        start = next;
    }
}

/// `ps`'s modules, each handed to `visit`.
pub fn modules(
    server: &impl SupervisorServer,
    mut visit: impl FnMut(&ModuleRow<'_>),
) -> Result<(), Failure> {
    read_pages(server, supervisor::modules::request, |answer, _| {
        let page = supervisor::modules::reply(answer)??;
        for row in page.rows() {
            visit(&row?);
        }
        Ok(page.next)
    })
}

/// `ps`'s native processes, each handed to `visit`.
pub fn processes(
    server: &impl SupervisorServer,
    mut visit: impl FnMut(&ProcessRow<'_>),
) -> Result<(), Failure> {
    read_pages(server, supervisor::processes::request, |answer, _| {
        let page = supervisor::processes::reply(answer)??;
        for row in page.rows() {
            visit(&row?);
        }
        Ok(page.next)
    })
}

/// The fault records, oldest first, each handed to `visit`.
pub fn faults(
    server: &impl SupervisorServer,
    mut visit: impl FnMut(&FaultRow<'_>),
) -> Result<(), Failure> {
    read_pages(server, supervisor::faults::request, |answer, _| {
        let page = supervisor::faults::reply(answer)??;
        for row in page.rows() {
            visit(&row?);
        }
        Ok(page.next)
    })
}

/// A module's state and instance, as `caps` heads its list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapabilitiesHead<'a> {
    pub module: &'a str,
    pub state: &'a str,
    pub generation: u32,
}

/// What `caps NAME` hands its visitor: the head once, first, then each
/// capability line.
pub enum CapabilitiesPart<'h, 'a> {
    Head(&'h CapabilitiesHead<'a>),
    Row(&'h CapabilityRow<'a>),
}

/// `caps NAME`, each part handed to `visit`.
pub fn capabilities(
    server: &impl SupervisorServer,
    name: &str,
    mut visit: impl FnMut(CapabilitiesPart<'_, '_>),
) -> Result<(), Failure> {
    read_pages(
        server,
        |request, start| supervisor::capabilities::request(request, name, start),
        |answer, first| {
            let answer = supervisor::capabilities::reply(answer)??;
            if first {
                visit(CapabilitiesPart::Head(&CapabilitiesHead {
                    module: answer.module,
                    state: answer.state,
                    generation: answer.generation,
                }));
            }
            for row in answer.page.rows() {
                visit(CapabilitiesPart::Row(&row?));
            }
            Ok(answer.page.next)
        },
    )
}

/// Uptime, kernel heap and modules running.
pub fn status(server: &impl SupervisorServer) -> Result<Status, Failure> {
    let (mut request, mut reply) = ([0; REQUEST], [0; MESSAGE]);
    let length = supervisor::status::request(&mut request)?;
    let answer = server.call(&request[..length], &mut reply)?;
    Ok(supervisor::status::reply(answer)??)
}
