//! The CMOS RTC driver as a native ring-3 process serving `rtc`: the same
//! driver source, run by the SDK's native backend (its ports 0x70/0x71 are
//! opened for the process by the kernel's port grant).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

cella_sdk::native_process!(name: "rtc", module: cella_cmos_rtc);
