//! The native syscall ABI, defined once in `cella_abi::syscalls`.

pub use cella_abi::syscalls::*;
