//! Dereferences a null pointer: the kernel must kill only this process.
#![no_std]
#![no_main]

fn main() -> i32 {
    cella_userland::log("fault-null: reading address 0");
    // SAFETY: deliberately unsound: the read faults and the kernel kills the process.
    let value = unsafe { core::ptr::read_volatile(core::ptr::null::<u64>()) };
    cella_userland::log!("fault-null: read {value} without a fault");
    0
}

cella_userland::entry!(main);
