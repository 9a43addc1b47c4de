//! The runtime of Cella's native ring-3 programs: the entry point, the panic
//! handler, and safe wrappers over the `syscall` instruction.
//!
//! Calling convention (see `docs/processes.md`): number in `rax`, arguments in
//! `rdi, rsi, rdx, r10, r8`; the result comes back in `rax`, negative for an
//! error code. `rcx` and `r11` are clobbered by the instruction itself.
//! The numbers come from `cella_abi::syscalls`, shared with the kernel.
#![no_std]

pub mod crc32;

/// Syscall numbers (defined once, in `cella_abi::syscalls`).
pub use cella_abi::syscalls as number;

/// Attaches granted IRQ `line`: its interrupts arrive as messages `[line]` on the returned handle.
pub fn irq_attach(line: u8) -> Result<u32, i64> {
    check(syscall(number::IRQ_ATTACH, [u64::from(line), 0, 0, 0, 0])).map(|handle| handle as u32)
}

/// The device was serviced: unmask `line` again.
pub fn irq_ack(line: u8) -> Result<(), i64> {
    check(syscall(number::IRQ_ACK, [u64::from(line), 0, 0, 0, 0])).map(|_| ())
}

/// Raw syscalls with five and six arguments (the SDK's native backend's).
pub use cella_sdk::native::{syscall, syscall6};

fn check(result: i64) -> Result<u64, i64> {
    if result < 0 {
        Err(result)
    } else {
        Ok(result as u64)
    }
}

/// Ends the process.
pub fn exit(code: i32) -> ! {
    syscall(number::EXIT, [code as u64, 0, 0, 0, 0]);
    loop {
        core::hint::spin_loop();
    }
}

/// Writes a line to the kernel log.
pub fn log(text: &str) {
    syscall(
        number::LOG,
        [text.as_ptr() as u64, text.len() as u64, 0, 0, 0],
    );
}

/// Gives the CPU away.
pub fn yield_now() {
    syscall(number::YIELD, [0; 5]);
}

/// Sleeps `nanoseconds`.
pub fn sleep(nanoseconds: u64) {
    syscall(number::SLEEP, [nanoseconds, 0, 0, 0, 0]);
}

/// Kernel time in nanoseconds.
pub fn now() -> u64 {
    syscall(number::TIME, [0; 5]) as u64
}

/// The cheapest syscall: does nothing, returns 0.
pub fn null() -> i64 {
    syscall(number::NULL, [0; 5])
}

/// A send handle to the endpoint registered as `name`.
pub fn lookup(name: &str) -> Result<u32, i64> {
    check(syscall(
        number::LOOKUP,
        [name.as_ptr() as u64, name.len() as u64, 0, 0, 0],
    ))
    .map(|handle| handle as u32)
}

/// Creates an endpoint registered as `name`; returns a receive handle.
pub fn register(name: &str) -> Result<u32, i64> {
    check(syscall(
        number::REGISTER,
        [name.as_ptr() as u64, name.len() as u64, 0, 0, 0],
    ))
    .map(|handle| handle as u32)
}

/// Sends `request` and waits for the reply, written to `reply`; returns its length.
pub fn call(handle: u32, request: &[u8], reply: &mut [u8]) -> Result<usize, i64> {
    // Deadline 0: none.
    call_until(handle, request, reply, 0)
}

/// Sends a one-way message.
pub fn send(handle: u32, message: &[u8]) -> Result<(), i64> {
    check(syscall(
        number::SEND,
        [
            u64::from(handle),
            message.as_ptr() as u64,
            message.len() as u64,
            0,
            0,
        ],
    ))
    .map(|_| ())
}

/// Waits for a message; returns its length and reply token (0 for a send).
pub fn receive(handle: u32, buffer: &mut [u8]) -> Result<(usize, u64), i64> {
    let mut token = 0u64;
    let length = check(syscall(
        number::RECEIVE,
        [
            u64::from(handle),
            buffer.as_mut_ptr() as u64,
            buffer.len() as u64,
            &raw mut token as u64,
            0,
        ],
    ))?;
    Ok((length as usize, token))
}

/// Like [`call`], giving up at `deadline` (kernel nanoseconds, as [`now`]):
/// `E_TIMED_OUT` then; `E_CLOSED` if the server's endpoint closes first.
pub fn call_until(
    handle: u32,
    request: &[u8],
    reply: &mut [u8],
    deadline: u64,
) -> Result<usize, i64> {
    check(syscall6(
        number::CALL,
        [
            u64::from(handle),
            request.as_ptr() as u64,
            request.len() as u64,
            reply.as_mut_ptr() as u64,
            reply.len() as u64,
            deadline,
        ],
    ))
    .map(|length| length as usize)
}

/// Like [`receive`], giving up at `deadline` (kernel nanoseconds, as [`now`]).
pub fn receive_until(handle: u32, buffer: &mut [u8], deadline: u64) -> Result<(usize, u64), i64> {
    let mut token = 0u64;
    let length = check(syscall(
        number::RECEIVE,
        [
            u64::from(handle),
            buffer.as_mut_ptr() as u64,
            buffer.len() as u64,
            &raw mut token as u64,
            deadline,
        ],
    ))?;
    Ok((length as usize, token))
}

/// Answers a call.
pub fn reply(token: u64, message: &[u8]) -> Result<(), i64> {
    check(syscall(
        number::REPLY,
        [token, message.as_ptr() as u64, message.len() as u64, 0, 0],
    ))
    .map(|_| ())
}

/// Maps the process's `index`-th MMIO grant; returns its user address.
pub fn mmio_map(index: u64) -> Result<u64, i64> {
    check(syscall(number::MMIO_MAP, [index, 0, 0, 0, 0]))
}

/// Formats into a fixed buffer and logs it.
pub struct LineBuffer {
    bytes: [u8; 480],
    length: usize,
}

impl LineBuffer {
    /// An empty line.
    pub const fn new() -> Self {
        LineBuffer {
            bytes: [0; 480],
            length: 0,
        }
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.length]).unwrap_or("<non-UTF-8>")
    }
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Write for LineBuffer {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let room = self.bytes.len() - self.length;
        let take = text.len().min(room);
        self.bytes[self.length..self.length + take].copy_from_slice(&text.as_bytes()[..take]);
        self.length += take;
        Ok(())
    }
}

/// `log!` with format arguments.
#[macro_export]
macro_rules! log {
    ($($argument:tt)*) => {{
        let mut line = $crate::LineBuffer::new();
        let _ = core::fmt::Write::write_fmt(&mut line, format_args!($($argument)*));
        $crate::log(line.as_str());
    }};
}

/// Declares the program's `main() -> i32`; generates `_start`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        #[unsafe(link_section = ".text._start")]
        pub extern "C" fn _start() -> ! {
            let code: i32 = $main();
            $crate::exit(code)
        }
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    log!("panic: {}", info.message());
    exit(101)
}
