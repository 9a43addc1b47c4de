//! cella-kernel binary: the PVH entry point and boot sequence.
#![no_std]
#![no_main]
