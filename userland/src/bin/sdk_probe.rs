//! An SDK module run by the native backend that uses every device kind a
//! process can hold: CMOS ports (with the Wasm host's refusals for offsets,
//! widths, bad and wrong-kind handles, and the bulk calls through one port),
//! the I/O APIC's MMIO, IRQ 8 (the RTC's periodic interrupt, delivered to
//! `on_irq`), a one-shot timer (to `on_timer`) and `ipc_send` to the endpoint
//! `probe-report`, where the scenario reads its report.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use cella_userland as _;

mod probe {
    use cella_sdk::{
        Endpoint, ErrorCode, FromHandle, Handle, Irq, Mmio, Module, Ports, Result, TextBuffer,
        Timer,
    };
    use core::fmt::Write;

    cella_sdk::module! {
        name: "sdk-probe",
        version: "1.0.0",
        module: Probe,
        capabilities: {
            cmos: port(0x70, 2),
            ioapic: mmio(0xfec00000, 0x20),
            rtc: irq(8),
            tick: timer(),
            report: endpoint("probe-report"),
        },
    }

    const IRQS: u32 = 10;
    const TIMERS: u32 = 5;
    const PERIOD_NS: u64 = 3_000_000;

    pub struct Probe {
        cmos: Ports,
        rtc: Irq,
        tick: Timer,
        report: Endpoint,
        refusals: &'static str,
        ioapic_version: u32,
        irqs: u32,
        timers: u32,
        deadline: u64,
        early: u32,
        done: bool,
    }

    /// The Wasm host's answers for out-of-grant accesses, in order.
    fn refusals(cmos: Ports, ioapic: Mmio, rtc: Irq) -> &'static str {
        let wrong_kind = Ports::from_handle(rtc.handle());
        let checks = [
            (cmos.read8(2).err(), ErrorCode::Denied),
            (cmos.read16(1).err(), ErrorCode::Denied),
            (cmos.read32(0).err(), ErrorCode::Denied),
            (cmos.write8(0xffff, 0).err(), ErrorCode::Denied),
            (wrong_kind.read8(0).err(), ErrorCode::Denied),
            (
                Ports::from_handle(Handle::from_raw(0x1ff)).read8(0).err(),
                ErrorCode::BadHandle,
            ),
            (
                Ports::from_handle(Handle::from_raw(-3)).read8(0).err(),
                ErrorCode::BadHandle,
            ),
            (ioapic.read32(2).err(), ErrorCode::Misaligned),
            (ioapic.read32(0x20).err(), ErrorCode::Denied),
            (Handle::for_capability(5).err(), ErrorCode::BadArgument),
            (cmos.read_bytes(2, &mut [0; 4]).err(), ErrorCode::Denied),
            (wrong_kind.write_bytes(0, &[0x8b]).err(), ErrorCode::Denied),
        ];
        // The bulk calls through one port: four reads of status register B
        // in one call read what one `read8` reads.
        let mut bytes = [0u8; 4];
        let bulk_agrees = cmos.write_bytes(0, &[0x8b, 0x8b]).is_ok()
            && cmos.read_bytes(1, &mut bytes).is_ok()
            && cmos.read8(1).is_ok_and(|one| bytes == [one; 4]);
        if bulk_agrees
            && checks
                .iter()
                .all(|(found, expected)| *found == Some(*expected))
        {
            "as the Wasm host"
        } else {
            "DIFFERENT"
        }
    }

    impl Probe {
        fn cmos(&self, register: u8) -> Result<u8> {
            self.cmos.write8(0, register | 0x80)?;
            self.cmos.read8(1)
        }

        fn set_cmos(&self, register: u8, value: u8) -> Result<()> {
            self.cmos.write8(0, register | 0x80)?;
            self.cmos.write8(1, value)
        }

        fn arm(&mut self) -> Result<()> {
            self.deadline = cella_sdk::time::now() + PERIOD_NS;
            self.tick.set_deadline(self.deadline)
        }

        fn finish_if_done(&mut self) -> Result<()> {
            if self.done || self.irqs < IRQS || self.timers < TIMERS {
                return Ok(());
            }
            self.done = true;
            let mut text = TextBuffer::<160>::new();
            let _ = write!(
                text,
                "refusals {}; I/O APIC version {:#x}; {} IRQs; {} timers, {} early",
                self.refusals,
                self.ioapic_version & 0xff,
                self.irqs,
                self.timers,
                self.early
            );
            self.report.send(text.as_bytes())
        }
    }

    impl Module for Probe {
        type Capabilities = Capabilities;

        fn init(capabilities: Capabilities) -> Result<Probe> {
            let Capabilities {
                cmos,
                ioapic,
                rtc,
                tick,
                report,
            } = capabilities;
            let refusals = refusals(cmos, ioapic, rtc);
            ioapic.write32(0, 1)?;
            let ioapic_version = ioapic.read32(0x10)?;
            let mut probe = Probe {
                cmos,
                rtc,
                tick,
                report,
                refusals,
                ioapic_version,
                irqs: 0,
                timers: 0,
                deadline: 0,
                early: 0,
                done: false,
            };
            // RTC periodic interrupt at 64 Hz.
            probe.set_cmos(0x0a, (probe.cmos(0x0a)? & 0xf0) | 0x0a)?;
            probe.set_cmos(0x0b, probe.cmos(0x0b)? | 0x40)?;
            let _ = probe.cmos(0x0c)?;
            probe.rtc.enable()?;
            probe.arm()?;
            Ok(probe)
        }

        fn on_irq(&mut self, irq: Handle) -> Result<()> {
            if !self.rtc.is(irq) {
                return Err(ErrorCode::BadArgument);
            }
            let _ = self.cmos(0x0c)?;
            self.irqs += 1;
            if self.irqs >= IRQS {
                self.set_cmos(0x0b, self.cmos(0x0b)? & !0x40)?;
                self.rtc.disable()?;
            }
            self.rtc.acknowledge()?;
            self.finish_if_done()
        }

        fn on_timer(&mut self, timer: Handle) -> Result<()> {
            if !self.tick.is(timer) {
                return Err(ErrorCode::BadArgument);
            }
            self.timers += 1;
            if cella_sdk::time::now() < self.deadline {
                self.early += 1;
            }
            if self.timers < TIMERS {
                self.arm()?;
            }
            self.finish_if_done()
        }
    }
}

cella_sdk::native_process!(name: "sdk-probe", module: probe);
