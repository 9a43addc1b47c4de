//! cella-sdk: what a Cella driver author writes against (filled in by the drivers issue).
#![no_std]
