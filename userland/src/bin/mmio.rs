//! Maps its MMIO grant (the I/O APIC) and reads the version register through
//! the index/data window: the device answers with its version and entry count.
#![no_std]
#![no_main]

fn main() -> i32 {
    let base = match cella_userland::mmio_map(0) {
        Ok(base) => base,
        Err(error) => {
            cella_userland::log!("mmio: no MMIO grant: {error}");
            return 2;
        }
    };
    // SAFETY: the kernel mapped the granted I/O APIC page at `base`, uncached;
    // register select at +0, data at +0x10, both 32-bit.
    let version = unsafe {
        core::ptr::write_volatile(base as *mut u32, 1);
        core::ptr::read_volatile((base + 0x10) as *const u32)
    };
    // Device memory is no syscall buffer: the kernel refuses it.
    let refused = cella_userland::syscall(cella_userland::number::LOG, [base, 4, 0, 0, 0]);
    cella_userland::log!("mmio: log(MMIO page) -> {refused}");
    cella_userland::log!(
        "mmio: I/O APIC at user {base:#x}: version {:#x}, {} redirection entries",
        version & 0xff,
        ((version >> 16) & 0xff) + 1
    );
    if version & 0xff == 0 || version == u32::MAX {
        1
    } else {
        0
    }
}

cella_userland::entry!(main);
