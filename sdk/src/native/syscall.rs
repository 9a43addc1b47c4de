//! The raw system call and port instructions of the native backend.

/// One system call (see `cella_abi::syscalls`): number in `rax`, arguments
/// in `rdi, rsi, rdx, r10, r8`, result in `rax` (negative: an error). The
/// sixth argument register, `r9`, is 0.
#[inline]
pub fn syscall(number: u64, arguments: [u64; 5]) -> i64 {
    let [first, second, third, fourth, fifth] = arguments;
    syscall6(number, [first, second, third, fourth, fifth, 0])
}

/// One system call with six arguments (`rdi, rsi, rdx, r10, r8, r9`).
#[inline]
pub fn syscall6(number: u64, arguments: [u64; 6]) -> i64 {
    let result: i64;
    // SAFETY: `syscall` enters the kernel, which validates every argument
    // (pointers included, through the process's page tables); it clobbers
    // only rax, rcx and r11.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number as i64 => result,
            in("rdi") arguments[0],
            in("rsi") arguments[1],
            in("rdx") arguments[2],
            in("r10") arguments[3],
            in("r8") arguments[4],
            in("r9") arguments[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    result
}

/// An ABI pointer back to a native address (exact: everything of a
/// process lies below 2 GiB).
pub fn address(pointer: i32) -> u64 {
    u64::from(pointer as u32)
}

/// An ABI length as a syscall argument (checked non-negative by the caller).
pub fn size(length: usize) -> u64 {
    length as u64
}

/// Reads `width` bytes (1, 2 or 4) from `port`.
pub fn port_in(port: u16, width: u32) -> u32 {
    // SAFETY: (every arm) port I/O touches no memory; the kernel opened only
    // the process's granted ports in the TSS I/O bitmap (any other port
    // raises #GP and the kernel kills the process), and the caller checked
    // `port` against the module's manifest range.
    unsafe {
        match width {
            1 => {
                let value: u8;
                core::arch::asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack, preserves_flags));
                u32::from(value)
            }
            2 => {
                let value: u16;
                core::arch::asm!("in ax, dx", in("dx") port, out("ax") value, options(nomem, nostack, preserves_flags));
                u32::from(value)
            }
            _ => {
                let value: u32;
                core::arch::asm!("in eax, dx", in("dx") port, out("eax") value, options(nomem, nostack, preserves_flags));
                value
            }
        }
    }
}

/// Writes the low `width` bytes (1, 2 or 4) of `value` to `port`.
pub fn port_out(port: u16, width: u32, value: u32) {
    // SAFETY: as in `port_in`.
    unsafe {
        match width {
            1 => {
                core::arch::asm!("out dx, al", in("dx") port, in("al") value as u8, options(nomem, nostack, preserves_flags))
            }
            2 => {
                core::arch::asm!("out dx, ax", in("dx") port, in("ax") value as u16, options(nomem, nostack, preserves_flags))
            }
            _ => {
                core::arch::asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
            }
        }
    }
}
