//! Processes in the running kernel: loading, the syscall dispatcher, fault
//! containment, and the switch hooks that load a process's address space and
//! I/O permissions when its thread runs.

use super::abi::{self, E_DENIED, E_FAULT, E_INVALID, E_NO_MEMORY, E_NO_SYSCALL};
use super::charge::{self, Charge, ENDPOINT_COST, HANDLE_COST};
use super::devices;
use super::elf::{self, ElfError};
use super::exit::ExitReason;
use super::grant::ProcessGrant;
use crate::arch::interrupts::{TrapFrame, describe_page_fault, exception_name};
use crate::arch::port_io::PortRange;
use crate::arch::syscall::SyscallFrame;
use crate::arch::{gdt, user};
use crate::ipc::{self, Capability, CapabilityTable, Handle, IpcError, Rights};
use crate::line_limit::{LineLimit, Verdict};
use crate::mm::layout::PAGE_SIZE;
use crate::mm::paging::MapError;
use crate::mm::user::{AddressSpace, TableRoot, USER_END, activate_kernel};
use crate::sched::{self, Priority, SwitchHook, ThreadId};
use crate::{kprintln, time};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;
use x86_64::instructions::interrupts::{self, without_interrupts};

/// Top of every process's stack (the page above it stays unmapped). Below
/// 2 GiB, like the image: the SDK's native backend passes ABI pointers as
/// 32-bit values (as on wasm32), which is exact only there.
pub const USER_STACK_TOP: u64 = 0x7fff_0000;
/// Pages of a process's stack (64 KiB), above an unmapped guard page.
pub const USER_STACK_PAGES: u64 = 16;
/// Most pages a process's segments may take (16 MiB): a huge `memsz` must not
/// drain the kernel's RAM.
pub const MAX_IMAGE_PAGES: u64 = 4096;
/// Where granted MMIO regions are mapped in a process.
pub const USER_MMIO_BASE: u64 = 0x6000_0000;

/// Why a process could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// The executable is malformed.
    Elf(ElfError),
    /// Memory for its pages ran out.
    Memory(MapError),
    /// No thread.
    Thread(String),
    /// A port or MMIO grant the kernel refuses whatever the manifest says
    /// (a port it drives itself, MMIO over RAM or the kernel image): the
    /// grant and the reason, as a module's grant is refused at load.
    Grant(String),
}

impl core::fmt::Display for SpawnError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Elf(error) => write!(formatter, "bad executable: {error}"),
            Self::Memory(error) => write!(formatter, "no memory: {error}"),
            Self::Thread(error) => write!(formatter, "no thread: {error}"),
            Self::Grant(why) => write!(formatter, "refused at spawn: {why}"),
        }
    }
}

pub(super) struct Process {
    pub(super) name: String,
    pub(super) space: AddressSpace,
    pub(super) handles: CapabilityTable,
    pub(super) grant: ProcessGrant,
    pub(super) mapped_mmio: BTreeMap<usize, u64>,
    pub(super) next_mmio: u64,
    pub(super) owned_endpoints: Vec<ipc::EndpointId>,
    /// After `space`: dropped once nothing maps the buffers any more.
    pub(super) dma: super::dma::ProcessDma,
    pub(super) charge: Charge,
    warnings: LineLimit,
    console: LineLimit,
    io_id: u64,
}

static NEXT_IO_ID: AtomicU64 = AtomicU64::new(1);

static PROCESSES: Mutex<BTreeMap<ThreadId, Process>> = Mutex::new(BTreeMap::new());
/// How processes ended, by thread, for `wait` and `ps`: the last
/// [`super::exit::EXITS_KEPT`].
static EXITS: Mutex<BTreeMap<ThreadId, (String, ExitReason)>> = Mutex::new(BTreeMap::new());

/// The process whose ports the TSS bitmap currently opens (0: none).
static IO_OWNER: AtomicU64 = AtomicU64::new(0);

/// Loads a process's tables and I/O permissions when its thread runs.
struct ProcessHook {
    id: u64,
    table: TableRoot,
    ports: Vec<PortRange>,
}

impl SwitchHook for ProcessHook {
    fn switched_in(&self) {
        crate::mm::user::load_table(self.table);
        // The bitmap is 8 KiB: rewrite it only when the open ports change
        // (owner 0 means every port is closed).
        let wanted = if self.ports.is_empty() { 0 } else { self.id };
        if IO_OWNER.swap(wanted, Ordering::Relaxed) != wanted {
            gdt::set_io_permissions(&self.ports);
        }
    }
}

/// Kernel threads run on whatever table is loaded (all map the kernel);
/// the I/O bitmap does not matter in ring 0.
struct KernelHook;

impl SwitchHook for KernelHook {
    fn switched_in(&self) {
        crate::mm::user::keep_for_kernel_thread();
    }
}

static KERNEL_HOOK: KernelHook = KernelHook;

/// Sets up `SYSCALL` and the kernel threads' switch hook. Call once after `sched::initialise`.
pub fn initialise() {
    crate::mm::user::remember_kernel_table();
    crate::arch::syscall::initialise();
    sched::set_default_hook(&KERNEL_HOOK);
}

fn map_error(error: MapError) -> SpawnError {
    SpawnError::Memory(error)
}

/// Loads `bytes` as process `name` with `grant` and starts its thread.
///
/// # Errors
/// [`SpawnError`]; nothing is left behind then.
pub fn spawn(name: &str, bytes: &[u8], grant: ProcessGrant) -> Result<ThreadId, SpawnError> {
    let executable = elf::parse(bytes).map_err(SpawnError::Elf)?;
    let image_pages: u64 = executable
        .segments
        .iter()
        .map(|segment| {
            let first = segment.address & !(PAGE_SIZE - 1);
            (segment.address + segment.memory_size).div_ceil(PAGE_SIZE) - first / PAGE_SIZE
        })
        .sum();
    if image_pages > MAX_IMAGE_PAGES {
        return Err(SpawnError::Memory(MapError::BadSize(
            image_pages * PAGE_SIZE,
        )));
    }
    if let Some(why) = crate::module_host::device_access::refused_grant(
        &grant.device_lines(),
        crate::module_host::device_access::dma_confined(),
    ) {
        return Err(SpawnError::Grant(why));
    }
    // `refused_grant` made each of these ranges once already.
    let ports: Vec<PortRange> = grant
        .grants
        .ports()
        .iter()
        .filter_map(|&(first, count)| PortRange::new(first, count).ok())
        .collect();
    let mut space = AddressSpace::new().map_err(map_error)?;
    for segment in &executable.segments {
        let first = segment.address & !(PAGE_SIZE - 1);
        let end = (segment.address + segment.memory_size).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        space
            .map_fresh(
                first,
                (end - first) / PAGE_SIZE,
                segment.writable,
                segment.executable,
            )
            .map_err(map_error)?;
        let start = segment.file_offset as usize;
        let file = &bytes[start..start + segment.file_size as usize];
        space
            .load(segment.address, file)
            .map_err(|_| SpawnError::Memory(MapError::NotMapped(segment.address)))?;
    }
    space
        .map_fresh(
            USER_STACK_TOP - USER_STACK_PAGES * PAGE_SIZE,
            USER_STACK_PAGES,
            true,
            false,
        )
        .map_err(map_error)?;
    let io_id = NEXT_IO_ID.fetch_add(1, Ordering::Relaxed);
    let hook: &'static ProcessHook = Box::leak(Box::new(ProcessHook {
        id: io_id,
        table: space.root(),
        ports,
    }));
    let entry = executable.entry;
    let allowance = if grant.kernel_memory == 0 {
        charge::DEFAULT_ALLOWANCE
    } else {
        grant.kernel_memory
    };
    let device = grant.pci_function();
    let process = Process {
        name: String::from(name),
        space,
        handles: CapabilityTable::default(),
        grant,
        mapped_mmio: BTreeMap::new(),
        next_mmio: USER_MMIO_BASE,
        owned_endpoints: Vec::new(),
        dma: super::dma::ProcessDma::for_device(device),
        charge: Charge::new(allowance),
        warnings: LineLimit::warnings(),
        console: LineLimit::console(),
        io_id,
    };
    // Interrupts off from spawn to registration: the thread cannot run (and
    // enter ring 3) before its process is in the table.
    without_interrupts(|| {
        let thread = sched::spawn_with(
            name,
            Priority::Normal,
            sched::DEFAULT_STACK_PAGES,
            Some(hook),
            Box::new(move || user::enter(entry, USER_STACK_TOP - 8)),
        )
        .map_err(|error| SpawnError::Thread(alloc::format!("{error}")))?;
        PROCESSES.lock().insert(thread, process);
        log::info!("process {name} started (thread {thread}, entry {entry:#x})");
        Ok(thread)
    })
}

/// How the process on `thread` ended, once it has.
pub fn exit_reason(thread: ThreadId) -> Option<(String, ExitReason)> {
    without_interrupts(|| EXITS.lock().get(&thread).cloned())
}

/// Waits (sleeping) until the process on `thread` ends or `timeout_ns` passes.
pub fn wait(thread: ThreadId, timeout_ns: u64) -> Option<ExitReason> {
    let deadline = time::now_nanoseconds() + timeout_ns;
    loop {
        if let Some((_, reason)) = exit_reason(thread) {
            return Some(reason);
        }
        if time::now_nanoseconds() >= deadline {
            return None;
        }
        sched::sleep_for(1_000_000);
    }
}

/// Ends the current process: its pages, handles and endpoints go, the reason
/// is recorded, and its thread exits. Interrupts are off from here on.
fn terminate(reason: ExitReason) -> ! {
    interrupts::disable();
    activate_kernel();
    let thread = sched::current();
    let process = PROCESSES.lock().remove(&thread);
    if let Some(process) = &process
        && IO_OWNER.load(Ordering::Relaxed) == process.io_id
    {
        gdt::set_io_permissions(&[]);
        IO_OWNER.store(0, Ordering::Relaxed);
    }
    let name = process
        .as_ref()
        .map_or_else(String::new, |process| process.name.clone());
    devices::release_irqs(thread);
    if let Some(process) = process {
        for &endpoint in &process.owned_endpoints {
            ipc::close_endpoint(endpoint);
        }
        drop(process);
    }
    log::info!("process {name} (thread {thread}) {reason}");
    super::exit::remember(&mut EXITS.lock(), thread, name, reason);
    sched::exit()
}

/// A CPU exception in ring 3: report it, kill the process, keep the system.
pub fn user_fault(frame: &TrapFrame) -> ! {
    let thread = sched::current();
    let name = PROCESSES
        .lock()
        .get(&thread)
        .map_or_else(|| String::from("?"), |process| process.name.clone());
    let mut summary = alloc::format!(
        "{} (vector {}) at rip={:#018x}",
        exception_name(frame.vector),
        frame.vector,
        frame.rip
    );
    if frame.vector == 14 {
        let address = x86_64::registers::control::Cr2::read_raw();
        summary.push_str(&alloc::format!(
            " cr2={address:#018x}: {}",
            describe_page_fault(frame.error_code)
        ));
    } else if frame.vector == 13 {
        summary.push_str(&alloc::format!(" error_code={:#x}", frame.error_code));
    }
    kprintln!("PROCESS FAULT: process {name} (thread {thread}) killed: {summary}");
    kprintln!(
        "  rax={:#x} rbx={:#x} rcx={:#x} rdx={:#x} rsi={:#x} rdi={:#x} rsp={:#x} rbp={:#x}",
        frame.rax,
        frame.rbx,
        frame.rcx,
        frame.rdx,
        frame.rsi,
        frame.rdi,
        frame.rsp,
        frame.rbp
    );
    terminate(ExitReason::Killed(summary))
}

/// The syscall dispatcher (from `arch::syscall`, interrupts off on entry and exit).
pub fn handle_syscall(frame: &mut SyscallFrame) {
    if frame.rcx >= USER_END {
        terminate(ExitReason::Killed(String::from(
            "syscall from a non-canonical return address",
        )));
    }
    interrupts::enable();
    let arguments = [
        frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9,
    ];
    let result = dispatch(frame.rax, arguments);
    interrupts::disable();
    frame.rax = result as u64;
}

pub(super) fn with_process<T>(action: impl FnOnce(&mut Process) -> T) -> Option<T> {
    let thread = sched::current();
    without_interrupts(|| PROCESSES.lock().get_mut(&thread).map(action))
}

fn read_user(address: u64, length: u64, limit: usize) -> Result<Vec<u8>, i64> {
    let length = usize::try_from(length).map_err(|_| E_INVALID)?;
    if length > limit {
        return Err(E_INVALID);
    }
    with_process(|process| process.space.read(address, length).map_err(|_| E_FAULT))
        .unwrap_or(Err(E_FAULT))
}

fn write_user(address: u64, bytes: &[u8]) -> Result<(), i64> {
    with_process(|process| process.space.write(address, bytes).map_err(|_| E_FAULT))
        .unwrap_or(Err(E_FAULT))
}

pub(super) fn endpoint_of(handle: u64, wanted: Rights) -> Result<ipc::EndpointId, i64> {
    let handle = Handle::try_from(handle).map_err(|_| IpcError::BadHandle.code())?;
    with_process(|process| {
        process
            .handles
            .check(handle, wanted)
            .map_err(IpcError::code)
    })
    .unwrap_or(Err(E_FAULT))
}

fn name_argument(address: u64, length: u64) -> Result<String, i64> {
    let bytes = read_user(address, length, abi::MAX_NAME_BYTES)?;
    String::from_utf8(bytes).map_err(|_| E_INVALID)
}

/// Gives the current process a handle to `endpoint`, charged to it.
pub(super) fn grant_handle(endpoint: ipc::EndpointId, rights: Rights) -> Result<i64, i64> {
    with_process(|process| {
        process.charge.take(HANDLE_COST).map_err(|_| E_NO_MEMORY)?;
        process
            .handles
            .insert(Capability { endpoint, rights })
            .map(i64::from)
            .map_err(|error| {
                process.charge.give_back(HANDLE_COST);
                error.code()
            })
    })
    .unwrap_or(Err(E_FAULT))
}

/// Takes back a handle [`grant_handle`] gave (the operation it was for failed).
pub(super) fn take_back_handle(handle: i64) {
    with_process(|process| {
        if let Ok(handle) = Handle::try_from(handle)
            && process.handles.revoke(handle).is_ok()
        {
            process.charge.give_back(HANDLE_COST);
        }
    });
}

/// Creates an endpoint (named `name` if given) owned by the current process,
/// charged to it, with a handle carrying `rights`. On any failure nothing is
/// left: no endpoint, no name, no handle, no charge.
pub(super) fn create_owned_endpoint(
    name: Option<&str>,
    rights: Rights,
) -> Result<(ipc::EndpointId, i64), i64> {
    with_process(|process| process.charge.take(ENDPOINT_COST))
        .ok_or(E_FAULT)?
        .map_err(|_| E_NO_MEMORY)?;
    let refund = || {
        with_process(|process| process.charge.give_back(ENDPOINT_COST));
    };
    let endpoint = ipc::create_endpoint(name).map_err(|error| {
        refund();
        error.code()
    })?;
    match grant_handle(endpoint, rights) {
        Ok(handle) => {
            with_process(|process| process.owned_endpoints.push(endpoint));
            Ok((endpoint, handle))
        }
        Err(error) => {
            ipc::close_endpoint(endpoint);
            refund();
            Err(error)
        }
    }
}

/// Undoes [`create_owned_endpoint`] (a later step failed).
pub(super) fn destroy_owned_endpoint(endpoint: ipc::EndpointId, handle: i64) {
    take_back_handle(handle);
    ipc::close_endpoint(endpoint);
    with_process(|process| {
        process.owned_endpoints.retain(|&owned| owned != endpoint);
        process.charge.give_back(ENDPOINT_COST);
    });
}

fn dispatch(number: u64, arguments: [u64; 6]) -> i64 {
    let result: Result<i64, i64> = match number {
        abi::EXIT => terminate(ExitReason::Exited(arguments[0] as i64)),
        abi::NULL => Ok(0),
        abi::TIME => Ok(time::now_nanoseconds() as i64),
        abi::YIELD => {
            sched::yield_now();
            Ok(0)
        }
        abi::SLEEP => {
            sched::sleep_for(arguments[0].min(10_000_000_000));
            Ok(0)
        }
        abi::LOG => read_user(arguments[0], arguments[1], abi::MAX_LOG_BYTES).map(|bytes| {
            let now = time::now_nanoseconds();
            let admitted = with_process(|process| {
                (
                    process.name.clone(),
                    process.console.admit(now, bytes.len()),
                )
            });
            // Escaped: the text stays on this line, after the process's name.
            match admitted {
                Some((name, Verdict::Print { held_back: 0 })) => {
                    kprintln!("[{name}] {}", crate::guest_text::escape_bytes(&bytes));
                }
                Some((name, Verdict::Print { held_back })) => kprintln!(
                    "[{name}] {} ({held_back} earlier lines not shown)",
                    crate::guest_text::escape_bytes(&bytes)
                ),
                Some((_, Verdict::Drop)) | None => {}
            }
            0
        }),
        abi::LOOKUP => name_argument(arguments[0], arguments[1]).and_then(|name| {
            let granted = with_process(|process| process.grant.grants.holds_endpoint(&name));
            if granted != Some(true) {
                refuse(&alloc::format!("lookup of `{name}`: no endpoint grant"));
                return Err(E_DENIED);
            }
            let endpoint = ipc::lookup(&name).map_err(IpcError::code)?;
            grant_handle(endpoint, Rights::SEND)
        }),
        abi::REGISTER => name_argument(arguments[0], arguments[1]).and_then(|name| {
            let granted = with_process(|process| process.grant.serves.contains(&name));
            if granted != Some(true) {
                refuse(&alloc::format!(
                    "register of `{name}`: not granted to serve it"
                ));
                return Err(E_DENIED);
            }
            create_owned_endpoint(Some(&name), Rights::SEND | Rights::RECEIVE)
                .map(|(_, handle)| handle)
        }),
        abi::SEND => endpoint_of(arguments[0], Rights::SEND).and_then(|endpoint| {
            let bytes =
                read_user(arguments[1], arguments[2], ipc::MAX_MESSAGE_BYTES).map_err(|error| {
                    if error == E_INVALID {
                        IpcError::TooLong.code()
                    } else {
                        error
                    }
                })?;
            ipc::send(endpoint, &bytes).map_err(IpcError::code)?;
            Ok(0)
        }),
        abi::CALL => endpoint_of(arguments[0], Rights::SEND).and_then(|endpoint| {
            let request =
                read_user(arguments[1], arguments[2], ipc::MAX_MESSAGE_BYTES).map_err(|error| {
                    if error == E_INVALID {
                        IpcError::TooLong.code()
                    } else {
                        error
                    }
                })?;
            let capacity = usize::try_from(arguments[4]).map_err(|_| E_INVALID)?;
            let capacity = capacity.min(ipc::MAX_MESSAGE_BYTES);
            // Check the reply buffer before sending, so a bad one cannot lose a reply.
            write_user(arguments[3], &alloc::vec![0; capacity])?;
            let deadline = (arguments[5] != 0).then_some(arguments[5]);
            let reply = ipc::call(endpoint, &request, deadline).map_err(IpcError::code)?;
            let length = reply.len().min(capacity);
            write_user(arguments[3], &reply[..length])?;
            Ok(reply.len() as i64)
        }),
        abi::RECEIVE => endpoint_of(arguments[0], Rights::RECEIVE).and_then(|endpoint| {
            let capacity = usize::try_from(arguments[2]).map_err(|_| E_INVALID)?;
            let capacity = capacity.min(ipc::MAX_MESSAGE_BYTES);
            write_user(arguments[1], &alloc::vec![0; capacity])?;
            write_user(arguments[3], &[0; 8])?;
            let deadline = (arguments[4] != 0).then_some(arguments[4]);
            let message = ipc::receive_until(endpoint, deadline).map_err(IpcError::code)?;
            let length = message.bytes.len().min(capacity);
            write_user(arguments[1], &message.bytes[..length])?;
            write_user(arguments[3], &message.token.to_le_bytes())?;
            Ok(message.bytes.len() as i64)
        }),
        abi::REPLY => read_user(arguments[1], arguments[2], ipc::MAX_MESSAGE_BYTES)
            .map_err(|error| {
                if error == E_INVALID {
                    IpcError::TooLong.code()
                } else {
                    error
                }
            })
            .and_then(|bytes| {
                // The answer ends the loan: a buffer lent with the call
                // leaves the process and its device before the caller can
                // see the answer (and goes if the call is not this
                // thread's to answer any more).
                super::loans::end(arguments[0]);
                ipc::reply_from(sched::current(), arguments[0], &bytes).map_err(IpcError::code)?;
                Ok(0)
            }),
        abi::MMIO_MAP => devices::map_mmio_grant(arguments[0]),
        abi::IRQ_ATTACH => devices::attach_irq(arguments[0]),
        abi::IRQ_ACK => devices::acknowledge_irq(arguments[0]),
        abi::IRQ_ROUTE => devices::route_irq(arguments[0], arguments[1]),
        abi::IRQ_SET_ENABLED => devices::set_irq_enabled(arguments[0], arguments[1]),
        abi::MMIO_MAP_RANGE => devices::map_mmio_range(arguments[0], arguments[1]),
        abi::PORTS_GRANTED => devices::ports_granted(arguments[0], arguments[1]),
        abi::PCI_FUNCTION => super::pci::function(arguments[0], arguments[1]),
        abi::PCI_CONFIG_READ => super::pci::config_read(arguments[0], arguments[1]),
        abi::PCI_CONFIG_WRITE => super::pci::config_write(arguments[0], arguments[1], arguments[2]),
        abi::MSIX_ROUTE => super::pci::route_msix(arguments[0], arguments[1]),
        abi::DMA_ALLOC => super::dma::allocate(arguments[0], arguments[1]),
        abi::DMA_FREE => super::dma::free(arguments[0]),
        abi::LOAN => super::loans::map(arguments[0], arguments[1], arguments[2]),
        _ => Err(E_NO_SYSCALL),
    };
    result.unwrap_or_else(|error| error)
}

/// Logs a refused request (a grant violation) with the process's name, at
/// most a few lines a second per process (the rest are counted, see `ps`).
pub(super) fn refuse(what: &str) {
    let now = time::now_nanoseconds();
    let Some((name, verdict)) = with_process(|process| {
        (
            process.name.clone(),
            process.warnings.admit(now, what.len()),
        )
    }) else {
        return;
    };
    match verdict {
        Verdict::Print { held_back: 0 } => log::warn!("process {name}: refused {what}"),
        Verdict::Print { held_back } => {
            log::warn!("process {name}: refused {what} ({held_back} more refusals not shown)")
        }
        Verdict::Drop => {}
    }
}

/// A live process as `ps` shows it.
pub struct ProcessRow {
    /// Its thread.
    pub thread: ThreadId,
    /// Its name.
    pub name: String,
    /// Endpoints it may serve.
    pub serves: Vec<String>,
    /// Kernel memory charged to it, and its allowance (bytes).
    pub kernel_memory: (usize, usize),
    /// Refusal warnings the rate limit held back.
    pub warnings_dropped: u64,
    /// Console lines the rate limit held back.
    pub lines_dropped: u64,
}

/// The `limit` processes that ended last, oldest first: (thread, name, how).
pub fn ended(limit: usize) -> Vec<(ThreadId, String, ExitReason)> {
    without_interrupts(|| {
        let exits = EXITS.lock();
        let skip = exits.len().saturating_sub(limit);
        exits
            .iter()
            .skip(skip)
            .map(|(thread, (name, reason))| (*thread, name.clone(), reason.clone()))
            .collect()
    })
}

/// The live processes, by thread.
pub fn running() -> Vec<ProcessRow> {
    without_interrupts(|| {
        PROCESSES
            .lock()
            .iter()
            .map(|(thread, process)| ProcessRow {
                thread: *thread,
                name: process.name.clone(),
                serves: process.grant.serves.clone(),
                kernel_memory: (process.charge.used(), process.charge.limit()),
                warnings_dropped: process.warnings.dropped(),
                lines_dropped: process.console.dropped(),
            })
            .collect()
    })
}

/// Starts the native processes the system manifest lists (`process NAME
/// FILE` blocks), each with its `serve` and `grant` lines as its grant.
pub fn start_manifest_processes(archive: Option<&crate::archive::Archive<'static>>) {
    use crate::system_manifest::SystemManifest;
    let Some(archive) = archive else {
        return;
    };
    let Ok(Some(entry)) = archive.find("system.manifest") else {
        return;
    };
    let Some(manifest) = core::str::from_utf8(entry.data)
        .ok()
        .and_then(|text| SystemManifest::parse(text).ok())
    else {
        return;
    };
    for plan in &manifest.processes {
        let (grant, unsupported) = ProcessGrant::from_plan(plan);
        for line in unsupported {
            log::warn!(
                "process {}: grant `{line}` is not supported for native processes yet; ignored",
                plan.name
            );
        }
        let bytes = match archive.find(&plan.file) {
            Ok(Some(entry)) => entry.data,
            _ => {
                log::error!(
                    "process {}: `{}` is not in the boot archive",
                    plan.name,
                    plan.file
                );
                continue;
            }
        };
        let granted: Vec<String> = plan
            .grants
            .iter()
            .map(|line| alloc::format!("{line}"))
            .collect();
        match spawn(&plan.name, bytes, grant) {
            Ok(thread) => log::info!(
                "process {} from the system manifest: thread {thread}, {}, serves [{}], granted [{}]",
                plan.name,
                plan.file,
                plan.serves.join(", "),
                granted.join(", ")
            ),
            Err(error) => log::error!("process {} not started: {error}", plan.name),
        }
    }
}
