//! The Wasm module: the [`Server`] polled on the module's one timer, its
//! `sockets` and `supervisor` calls made and waited for in the handler.
//! The timer is armed again [`BUSY_POLL_NS`] after a poll that moved
//! bytes, [`WAITING_POLL_NS`] while connections wait for their peers and
//! [`IDLE_POLL_NS`] with none open.
//!
//! A hot swap carries the listener over (the successor keeps serving the
//! same port) and the open connections' sockets, which the successor
//! closes: an answer under way at the swap ends there.

use crate::sockets::{Caller, SocketsEndpoint};
use crate::supervisor_client::SupervisorServer;
use crate::table::{Activity, Server};
use alloc::vec::Vec;
use cella_sdk::interfaces::sockets::Handle as SocketHandle;
use cella_sdk::{Endpoint, ErrorCode, Handle, Module, Result, Timer};

cella_sdk::module! {
    name: "httpd",
    version: "1.0.0",
    state: 1,
    module: Httpd,
    capabilities: {
        sockets: endpoint("sockets"),
        supervisor: endpoint("supervisor"),
        timer: timer(),
    },
}

// The answers and connection buffers are allocated; the heap grows the module's memory.
#[global_allocator]
static HEAP: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// The next poll after one that moved bytes.
pub const BUSY_POLL_NS: u64 = 500_000;
/// The next poll while connections wait for their peers.
pub const WAITING_POLL_NS: u64 = 5_000_000;
/// The next poll with no connection open.
pub const IDLE_POLL_NS: u64 = 25_000_000;
/// How long a call to `sockets` or `supervisor` may take.
const CALL_DEADLINE_MS: u32 = 2_000;
/// The saved state's format.
const STATE_FORMAT: u32 = 1;

/// An endpoint called and waited for.
struct Waited<'a>(&'a Endpoint);

impl Caller for Waited<'_> {
    fn call<'r>(
        &self,
        request: &[u8],
        reply: &'r mut [u8],
    ) -> core::result::Result<&'r [u8], ErrorCode> {
        self.0.call_and_wait(request, CALL_DEADLINE_MS, reply)
    }
}

impl SupervisorServer for Waited<'_> {
    fn call<'r>(
        &self,
        request: &[u8],
        reply: &'r mut [u8],
    ) -> core::result::Result<&'r [u8], ErrorCode> {
        self.0.call_and_wait(request, CALL_DEADLINE_MS, reply)
    }
}

/// The module's state between events.
pub struct Httpd {
    sockets: Endpoint,
    supervisor: Endpoint,
    timer: Timer,
    server: Server,
    /// Whether the listener's first success was logged.
    told_listening: bool,
}

impl Module for Httpd {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Httpd> {
        Httpd::start(capabilities, Server::new())
    }

    fn on_timer(&mut self, timer: Handle) -> Result<()> {
        if !self.timer.is(timer) {
            return Ok(());
        }
        let mut sockets = SocketsEndpoint::new(Waited(&self.sockets));
        let supervisor = Waited(&self.supervisor);
        let now_ms = cella_sdk::time::now() / 1_000_000;
        let activity = self.server.poll(now_ms, &mut sockets, &supervisor);
        if self.server.listening() && !self.told_listening {
            self.told_listening = true;
            cella_sdk::info!(
                "serving the status page on TCP port {}, at most {} connections",
                crate::table::PORT,
                crate::table::MAX_CONNECTIONS
            );
        }
        self.timer.set_after(match activity {
            Activity::Busy => BUSY_POLL_NS,
            Activity::Waiting => WAITING_POLL_NS,
            Activity::Idle => IDLE_POLL_NS,
        })
    }

    /// The listener (a flag and its handle), then the count of open
    /// connections and their handles: 4 + 8 bytes a handle.
    fn save_state(&self, out: &mut [u8]) -> Result<usize> {
        let (listener, connections) = self.server.handles();
        let mut length = 0;
        let mut put = |bytes: &[u8]| -> Result<()> {
            let end = length + bytes.len();
            out.get_mut(length..end)
                .ok_or(ErrorCode::Exhausted)?
                .copy_from_slice(bytes);
            length = end;
            Ok(())
        };
        let handles: Vec<SocketHandle> = listener.into_iter().chain(connections).collect();
        put(&u32::from(listener.is_some()).to_le_bytes())?;
        put(&(handles.len() as u32).to_le_bytes())?;
        for handle in handles {
            put(&handle.slot.to_le_bytes())?;
            put(&handle.generation.to_le_bytes())?;
        }
        Ok(length)
    }

    fn restore_state(capabilities: Capabilities, saved: &[u8], format: u32) -> Result<Httpd> {
        if format != STATE_FORMAT {
            cella_sdk::error!("state format {format} is not {STATE_FORMAT}: refused");
            return Err(ErrorCode::BadArgument);
        }
        let word = |at: usize| -> Result<u32> {
            let bytes = saved.get(at..at + 4).ok_or(ErrorCode::BadArgument)?;
            Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        };
        let has_listener = word(0)? == 1;
        let count = word(4)? as usize;
        if saved.len() != 8 + count * 8 || (has_listener && count == 0) {
            return Err(ErrorCode::BadArgument);
        }
        let mut handles = Vec::new();
        handles
            .try_reserve(count)
            .map_err(|_| ErrorCode::Exhausted)?;
        for index in 0..count {
            handles.push(SocketHandle {
                slot: word(8 + index * 8)?,
                generation: word(12 + index * 8)?,
            });
        }
        let listener = if has_listener {
            Some(handles.remove(0))
        } else {
            None
        };
        let mut httpd = Httpd::start(capabilities, Server::taking_over(listener, handles))?;
        httpd.told_listening = listener.is_some();
        Ok(httpd)
    }
}

impl Httpd {
    fn start(capabilities: Capabilities, server: Server) -> Result<Httpd> {
        let Capabilities {
            sockets,
            supervisor,
            timer,
        } = capabilities;
        timer.set_after(0)?;
        Ok(Httpd {
            sockets,
            supervisor,
            timer,
            server,
            told_listening: false,
        })
    }
}
