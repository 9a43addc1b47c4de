//! Exits at once with status 0: the program the kernel's `bench` scenario starts and waits
//! for, over and over, for its process start + exit + wait figure.
#![no_std]
#![no_main]

fn main() -> i32 {
    0
}

cella_userland::entry!(main);
