//! cella-kernel: the native Cella kernel's library half (hardware-free logic is host-tested).
#![cfg_attr(not(test), no_std)]
