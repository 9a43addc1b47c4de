//! Executes `ud2`: the kernel must kill only this process.
#![no_std]
#![no_main]

fn main() -> i32 {
    cella_userland::log("fault-ud2: executing ud2");
    // SAFETY: deliberately raises #UD; the kernel kills the process.
    unsafe { core::arch::asm!("ud2") };
    0
}

cella_userland::entry!(main);
