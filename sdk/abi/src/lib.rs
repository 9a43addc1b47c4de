//! cella-abi: Cella's guest ABI v1, shared by the Wasm host and the SDK (filled in by the wasm-host issue).
#![no_std]
