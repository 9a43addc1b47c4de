//! The checksum server as a native ring-3 process serving `checksum-ring3`: the same
//! module source as `checksum-native`, beside its Wasm build in lab 8
//! (`docs/labs/08-wasm-native.md`), whose system has `checksum` served already.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

cella_sdk::native_process!(name: "checksum-ring3", module: cella_checksum);
