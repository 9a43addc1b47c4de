//! cella-qemu-tests: the harness that boots Cella images in QEMU and judges each scenario.
