//! cella-wasm-host: one capability-checked wasmi sandbox per Cella module (filled in by the wasm-host issue).
#![cfg_attr(not(test), no_std)]
