//! Says hello, checks that its SSE register survives yields to other
//! processes (FPU/SSE state is per thread), sleeps, and exits with 0.
#![no_std]
#![no_main]

use cella_userland::{log, sleep, yield_now};

fn main() -> i32 {
    let start = cella_userland::now();
    let pattern: u64 = 0x5ee5_0000_0000_0000 ^ start;
    let mut survived = true;
    for _ in 0..20 {
        let value: u64;
        // SAFETY: moves a value through xmm0 and back; no memory is touched.
        unsafe {
            core::arch::asm!("movq xmm0, {}", in(reg) pattern, out("xmm0") _);
        }
        yield_now();
        // SAFETY: reads xmm0 back into a general register.
        unsafe {
            core::arch::asm!("movq {}, xmm0", out(reg) value);
        }
        survived &= value == pattern;
    }
    sleep(2_000_000);
    log!("hello from ring 3: xmm0 survived 20 yields: {survived}");
    if survived { 0 } else { 3 }
}

cella_userland::entry!(main);
