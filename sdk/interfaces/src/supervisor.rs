//! `supervisor`: what the kernel's supervisor shows a person (`ps`, `log`,
//! `caps`, `uptime`, `mem`), as typed records, served by the kernel itself
//! to a module granted the `supervisor` endpoint.
//!
//! The reading operations (`modules`, `processes`, `faults`,
//! `capabilities`, `status`) restart, stop, swap or install nothing, so a
//! module granted the endpoint learns what `ps` shows and can change
//! nothing through them. A table longer than one
//! answer comes in [`Page`]s: `start` names the first row, and the page's
//! `next` is where the next one starts, or 0 when there are no more rows,
//! as `fs`'s `list` pages a directory.
//!
//! Besides them, `run(line)` runs one of the supervisor's commands and
//! `report_page(n)` reads the rest of its answer ([`commands`]); the kernel
//! answers them to the module serving `console` (the shell) only, and
//! fails any other caller's call with `Denied`, running nothing.

use crate::wire::{Reader, Wire, WireError, Writer};
use core::fmt;
use core::marker::PhantomData;

pub mod commands;
pub use commands::{ANSWER_TEXT_BYTES, CommandAnswer, CommandRequest, text_page};

/// The most bytes of rows one page carries, leaving room in the
/// 4,096-byte message for the rest of the answer.
pub const MAX_PAGE_BYTES: usize = 3584;

crate::wire_enum! {
    /// Why a request was not answered with what it asked.
    pub enum SupervisorError {
        /// No module has that name.
        NotFound = 1 => "no such module",
        /// A `start` past the end of the table.
        BadArgument = 2 => "bad argument",
        /// One row is longer than a page holds.
        TooLong = 3 => "a row is longer than one answer holds",
        /// The kernel had no memory to build the answer.
        OutOfMemory = 4 => "the kernel has no memory for the answer",
        /// `report_page` with no answer of a command kept for the caller.
        NoReport = 5 => "no answer of a command is kept for this caller",
        /// `run` while a command of the same caller still runs.
        Busy = 6 => "a command of this caller is still running",
    }
}

crate::wire_record! {
    /// One module as `ps` shows it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ModuleRow<'a> {
        pub name: &'a str,
        /// `-` for a module that is not loaded.
        pub version: &'a str,
        /// The generation of its instance (0 if it never ran).
        pub generation: u32,
        /// `running`, `held`, `not-started`, ... as `ps` says it.
        pub state: &'a str,
        pub restarts: u32,
        /// Events its instances handled.
        pub events: u64,
        /// Fuel its running instance used.
        pub fuel: u64,
        /// Linear memory of its running instance.
        pub memory_kib: u64,
        /// Log lines dropped over an event's log budget.
        pub log_lines_dropped: u64,
        /// Warnings the kernel's rate limit dropped.
        pub warnings_dropped: u64,
        /// Console lines the kernel's rate limit held back.
        pub lines_held_back: u64,
    }
}

impl fmt::Display for ModuleRow<'_> {
    /// `uart16550 1.0.0 generation 1 running: 0 restarts, 48 events,
    /// 339047 fuel, 384 KiB, 0 log lines dropped`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{} {} generation {} {}: {} restarts, {} events, {} fuel, {} KiB, {} log lines dropped",
            self.name,
            self.version,
            self.generation,
            self.state,
            self.restarts,
            self.events,
            self.fuel,
            self.memory_kib,
            self.log_lines_dropped
        )?;
        if self.warnings_dropped != 0 {
            write!(out, ", {} warnings dropped", self.warnings_dropped)?;
        }
        if self.lines_held_back != 0 {
            write!(out, ", {} console lines held back", self.lines_held_back)?;
        }
        Ok(())
    }
}

crate::wire_record! {
    /// One native process as `ps` lists it: its name and `ps`'s line.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ProcessRow<'a> {
        pub name: &'a str,
        pub line: &'a str,
    }
}

impl fmt::Display for ProcessRow<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(self.line)
    }
}

crate::wire_record! {
    /// One recorded fault, as `log` shows it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FaultRow<'a> {
        /// Kernel time of the fault, nanoseconds since boot.
        pub time_ns: u64,
        pub module: &'a str,
        pub generation: u32,
        /// The event it was handling (empty if none: it was starting, or
        /// was faulted between events).
        pub handling: &'a str,
        /// `module NAME faulted in ENTRY: KIND`.
        pub reason: &'a str,
        /// The last device accesses and host calls of the instance, oldest
        /// first, one a line.
        pub accesses: &'a str,
    }
}

impl fmt::Display for FaultRow<'_> {
    /// `[    12.345 s] pci generation 5: REASON`, then `handling: ...` and
    /// one `before: ...` line per access.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "[{:>6}.{:03} s] {} generation {}: {}",
            self.time_ns / 1_000_000_000,
            self.time_ns / 1_000_000 % 1000,
            self.module,
            self.generation,
            self.reason
        )?;
        if !self.handling.is_empty() {
            write!(out, "\n    it was handling: {}", self.handling)?;
        }
        for access in self.accesses.lines() {
            write!(out, "\n    before: {access}")?;
        }
        Ok(())
    }
}

crate::wire_enum! {
    /// Where a capability line of `caps` comes from.
    pub enum CapabilityKind {
        /// Granted by the system manifest.
        Granted = 1 => "granted",
        /// An endpoint the module serves.
        Serves = 2 => "serves",
        /// Held by the running instance.
        Held = 3 => "held",
    }
}

crate::wire_record! {
    /// One line of `caps`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CapabilityRow<'a> {
        pub kind: CapabilityKind,
        /// `port 0x70 2`, `endpoint block`, ... as `caps` writes it.
        pub text: &'a str,
    }
}

impl fmt::Display for CapabilityRow<'_> {
    /// `granted port 0x70 2`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "{} {}", self.kind, self.text)
    }
}

/// Part of a table: `rows` holds `count` rows of type `T` in their wire
/// form, the table's rows from `start` on; `next` is where the next page
/// starts, or 0 when there are no more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page<'a, T> {
    pub start: u32,
    pub count: u32,
    pub next: u32,
    pub rows: &'a [u8],
    kind: PhantomData<fn() -> T>,
}

/// A page of `ps`'s modules.
pub type ModulePage<'a> = Page<'a, ModuleRow<'a>>;
/// A page of `ps`'s native processes.
pub type ProcessPage<'a> = Page<'a, ProcessRow<'a>>;
/// A page of the fault records.
pub type FaultPage<'a> = Page<'a, FaultRow<'a>>;

impl<'a, T: Wire<'a> + 'a> Page<'a, T> {
    /// A page of `count` rows in their wire form (`rows`) from row `start`
    /// on, the next page at `next` (0: none).
    pub fn new(start: u32, count: u32, next: u32, rows: &'a [u8]) -> Self {
        Page {
            start,
            count,
            next,
            rows,
            kind: PhantomData,
        }
    }

    /// The rows, decoded; a row that does not decode ends them with its
    /// error.
    pub fn rows(&self) -> impl Iterator<Item = Result<T, WireError>> + 'a {
        let mut reader = Reader::new(self.rows);
        let mut left = self.count;
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let row = T::decode(&mut reader);
            if row.is_err() {
                left = 0;
            }
            Some(row)
        })
    }
}

impl<'a, T: Wire<'a> + 'a> Wire<'a> for Page<'a, T> {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        self.start.encode(out)?;
        self.count.encode(out)?;
        self.next.encode(out)?;
        self.rows.encode(out)
    }

    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError> {
        Ok(Page::new(
            Wire::decode(input)?,
            Wire::decode(input)?,
            Wire::decode(input)?,
            Wire::decode(input)?,
        ))
    }

    /// One line a row; `(no rows)` for none; `(more from row N)` when
    /// another page follows.
    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        if self.count == 0 {
            out.write_str("(no rows)")?;
        }
        for (index, row) in self.rows().enumerate() {
            if index > 0 {
                out.write_str("\n")?;
            }
            match row {
                Ok(row) => row.render(out)?,
                Err(error) => write!(out, "(a row does not decode: {error})")?,
            }
        }
        if self.next != 0 {
            write!(out, "\n(more from row {})", self.next)?;
        }
        Ok(())
    }
}

/// Where a page's rows were written: how many, where the next page starts
/// (0: none) and the bytes they take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packed {
    pub count: u32,
    pub next: u32,
    pub length: usize,
}

impl Packed {
    /// The page the packed rows make: `buffer` is the one [`pack`] wrote,
    /// `start` the row it started from.
    pub fn page<'a, T: Wire<'a> + 'a>(&self, start: u32, buffer: &'a [u8]) -> Page<'a, T> {
        Page::new(start, self.count, self.next, &buffer[..self.length])
    }
}

/// Writes the rows of `rows` from index `start` on into `buffer`, as many
/// whole rows as fit; for a server building a [`Page`].
///
/// # Errors
/// [`SupervisorError::BadArgument`] for a `start` past the last row (the
/// row count itself gives an empty last page), [`SupervisorError::TooLong`]
/// if the first row does not fit `buffer` alone.
pub fn pack<'r, T: Wire<'r>>(
    rows: impl IntoIterator<Item = T>,
    start: u32,
    buffer: &mut [u8],
) -> Result<Packed, SupervisorError> {
    let start = usize::try_from(start).map_err(|_| SupervisorError::BadArgument)?;
    let mut packed = Packed {
        count: 0,
        next: 0,
        length: 0,
    };
    let mut total = 0;
    for (index, row) in rows.into_iter().enumerate() {
        total = index + 1;
        if index < start {
            continue;
        }
        // Each row is written after the last whole one, so a row that
        // does not fit leaves nothing the page counts.
        let mut writer = Writer::new(&mut buffer[packed.length..]);
        match row.encode(&mut writer) {
            Ok(()) => {
                packed.count += 1;
                packed.length += writer.length();
            }
            Err(_) if packed.count == 0 => return Err(SupervisorError::TooLong),
            Err(_) => {
                packed.next = u32::try_from(index).map_err(|_| SupervisorError::TooLong)?;
                return Ok(packed);
            }
        }
    }
    if start > total {
        return Err(SupervisorError::BadArgument);
    }
    Ok(packed)
}

crate::wire_record! {
    /// `caps NAME`: the module's state, the generation of its running
    /// instance (0: none runs) and a page of its capability lines.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Capabilities<'a> {
        pub module: &'a str,
        pub state: &'a str,
        pub generation: u32,
        pub page: Page<'a, CapabilityRow<'a>>,
    }
}

impl fmt::Display for Capabilities<'_> {
    /// `virtio-blk running, instance 6:` then one line a capability.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "{} {}", self.module, self.state)?;
        if self.generation != 0 {
            write!(out, ", instance {}", self.generation)?;
        }
        out.write_str(":\n")?;
        self.page.render(out)
    }
}

crate::wire_record! {
    /// `uptime` and `mem` in brief, and how many modules run.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Status {
        /// Nanoseconds since boot.
        pub uptime_ns: u64,
        /// Bytes of the kernel heap in use.
        pub heap_used: u64,
        /// Bytes of the kernel heap free.
        pub heap_free: u64,
        /// Modules running.
        pub modules_up: u32,
        /// Modules in the table.
        pub modules_total: u32,
    }
}

impl fmt::Display for Status {
    /// `up 12.345 s; kernel heap 2048 KiB used, 30720 KiB free; 8 of 11
    /// modules running`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "up {}.{:03} s; kernel heap {} KiB used, {} KiB free; {} of {} modules running",
            self.uptime_ns / 1_000_000_000,
            self.uptime_ns / 1_000_000 % 1000,
            self.heap_used / 1024,
            self.heap_free / 1024,
            self.modules_up,
            self.modules_total
        )
    }
}

crate::interface! {
    endpoint "supervisor";
    /// `ps`'s modules, from row `start` on.
    idempotent fn modules(start: u32) -> Result<ModulePage<'_>, SupervisorError>;
    /// `ps`'s native processes, from row `start` on.
    idempotent fn processes(start: u32) -> Result<ProcessPage<'_>, SupervisorError>;
    /// The fault records, oldest first, from record `start` on.
    idempotent fn faults(start: u32) -> Result<FaultPage<'_>, SupervisorError>;
    /// `caps NAME`, from capability line `start` on.
    idempotent fn capabilities(name: &str, start: u32) -> Result<Capabilities<'_>, SupervisorError>;
    /// Uptime, kernel heap and modules running.
    idempotent fn status() -> Result<Status, SupervisorError>;
    /// Runs the command line `line`; answered when the command ends, with
    /// page 0 of its answer. Only for the console's server.
    once fn run(line: &str) -> Result<CommandAnswer<'_>, SupervisorError>;
    /// Page `page` of the caller's last command's answer. Only for the
    /// console's server.
    idempotent fn report_page(page: u32) -> Result<CommandAnswer<'_>, SupervisorError>;
}

#[cfg(test)]
mod tests;
