//! Attaches IRQ 8 (the CMOS RTC), turns on the RTC's periodic interrupt at
//! 64 Hz through ports 0x70/0x71, and takes 10 IRQ messages, acknowledging
//! each at the device (register C) and at the kernel (`irq_ack`).
#![no_std]
#![no_main]

fn cmos_read(register: u8) -> u8 {
    let value: u8;
    // SAFETY: port I/O on the granted CMOS ports; no memory is touched.
    unsafe {
        core::arch::asm!("out 0x70, al", in("al") register | 0x80, options(nomem, nostack));
        core::arch::asm!("in al, 0x71", out("al") value, options(nomem, nostack));
    }
    value
}

fn cmos_write(register: u8, value: u8) {
    // SAFETY: as in `cmos_read`.
    unsafe {
        core::arch::asm!("out 0x70, al", in("al") register | 0x80, options(nomem, nostack));
        core::arch::asm!("out 0x71, al", in("al") value, options(nomem, nostack));
    }
}

fn main() -> i32 {
    let handle = match cella_userland::irq_attach(8) {
        Ok(handle) => handle,
        Err(error) => {
            cella_userland::log!("rtc-irq: irq_attach(8) -> {error}");
            return 2;
        }
    };
    cmos_write(0x0a, (cmos_read(0x0a) & 0xf0) | 0x0a);
    cmos_write(0x0b, cmos_read(0x0b) | 0x40);
    let _ = cmos_read(0x0c);
    let started = cella_userland::now();
    let mut received = 0;
    let mut buffer = [0u8; 8];
    while received < 10 {
        match cella_userland::receive(handle, &mut buffer) {
            Ok((1, _)) if buffer[0] == 8 => {
                received += 1;
                let _ = cmos_read(0x0c);
                let _ = cella_userland::irq_ack(8);
            }
            Ok(_) => return 3,
            Err(error) => {
                cella_userland::log!("rtc-irq: receive -> {error}");
                return 4;
            }
        }
    }
    cmos_write(0x0b, cmos_read(0x0b) & !0x40);
    let elapsed = (cella_userland::now() - started) / 1_000_000;
    cella_userland::log!("rtc-irq: {received} IRQ 8 messages in {elapsed} ms");
    0
}

cella_userland::entry!(main);
