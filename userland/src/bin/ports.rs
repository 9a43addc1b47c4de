//! Reads the CMOS seconds register through ports 0x70/0x71 with `out`/`in`:
//! works with a port grant, #GP (process killed) without one.
#![no_std]
#![no_main]

fn main() -> i32 {
    cella_userland::log("ports: selecting CMOS register 0 through port 0x70");
    let value: u8;
    // SAFETY: port I/O; the TSS I/O permission bitmap decides whether ring 3
    // may do it (a #GP kills the process otherwise). No memory is touched.
    unsafe {
        core::arch::asm!("out 0x70, al", in("al") 0u8, options(nomem, nostack));
        core::arch::asm!("in al, 0x71", out("al") value, options(nomem, nostack));
    }
    cella_userland::log!("ports: CMOS seconds register reads {value:#04x}");
    0
}

cella_userland::entry!(main);
