//! Passes kernel addresses, bad lengths, bad handles and bad numbers to
//! syscalls; each must come back as an error code. Then a kernel pointer to
//! `log` (an error too), and exits 0 if every answer was an error.
#![no_std]
#![no_main]

use cella_userland::{number, syscall};

const KERNEL_ADDRESS: u64 = 0xffff_ffff_8010_0000;

fn main() -> i32 {
    let checks: [(&str, u64, [u64; 5]); 8] = [
        (
            "log(kernel address)",
            number::LOG,
            [KERNEL_ADDRESS, 16, 0, 0, 0],
        ),
        ("log(unmapped)", number::LOG, [0x1000, 16, 0, 0, 0]),
        (
            "log(huge length)",
            number::LOG,
            [0x40_0000, u64::MAX, 0, 0, 0],
        ),
        (
            "lookup(kernel address)",
            number::LOOKUP,
            [KERNEL_ADDRESS, 4, 0, 0, 0],
        ),
        (
            "send(bad handle)",
            number::SEND,
            [0x7777, 0x40_0000, 4, 0, 0],
        ),
        (
            "call(bad handle)",
            number::CALL,
            [0xdead_0001, 0x40_0000, 4, 0x40_0000, 4],
        ),
        (
            "reply(bad token)",
            number::REPLY,
            [0x1234_5678, 0x40_0000, 4, 0, 0],
        ),
        ("number 999", 999, [0; 5]),
    ];
    let mut all_refused = true;
    for (what, number, arguments) in checks {
        let result = syscall(number, arguments);
        cella_userland::log!("bad-syscalls: {what} -> {result}");
        all_refused &= result < 0;
    }
    // An endpoint the process has no grant for.
    let result = cella_userland::lookup("checksum").err().unwrap_or(0);
    cella_userland::log!("bad-syscalls: lookup(not granted) -> {result}");
    all_refused &= result < 0;
    // A receive buffer in read-only text must be refused, not written.
    let handle = cella_userland::register("bad-syscalls-probe").unwrap_or(0);
    let result = syscall(
        number::RECEIVE,
        [u64::from(handle), 0x40_0000, 64, 0x40_0000, 0],
    );
    cella_userland::log!("bad-syscalls: receive(into read-only text) -> {result}");
    all_refused &= result < 0;
    cella_userland::log!("bad-syscalls: all refused: {all_refused}");
    if all_refused { 0 } else { 1 }
}

cella_userland::entry!(main);
