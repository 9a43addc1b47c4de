//! The checksum server as a native ring-3 process: the same module source,
//! run by the SDK's native backend.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

cella_sdk::native_process!(name: "checksum", module: cella_checksum);
