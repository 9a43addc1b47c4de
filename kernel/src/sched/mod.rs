//! Kernel threads and the preemptive scheduler (one CPU).
//!
//! Every thread has its own kernel stack above an unmapped guard page (the
//! boot thread keeps the boot stack, which has one too). The PIT tick (IRQ 0,
//! 1 kHz) drives preemption: the IRQ handler sends end-of-interrupt, then calls
//! [`on_timer_tick`], which wakes due sleepers and, when the policy says so,
//! switches threads right there; the interrupted frame stays on the old
//! thread's stack until it is resumed and returns through `iretq`.
//!
//! Decisions (who runs next, slices, sleepers) come from [`policy`], which is
//! tested on the host. The scheduler's state lives behind one spin lock taken
//! with interrupts off, and never held across a switch; as everywhere in the
//! kernel, no lock is ever held with interrupts on, so preemption cannot
//! strand a lock holder.
//!
//! Blocking follows one pattern: with interrupts off, check the condition,
//! then [`block_current`]; a waker calls [`wake`] (also from interrupt handlers).
//! A wake that arrives before the block is not lost: the thread's `wake
//! pending` flag makes the next block return at once.
#![forbid(unsafe_code)]

pub mod policy;

#[cfg(target_os = "none")]
mod kernel;

#[cfg(target_os = "none")]
pub use kernel::*;
pub use policy::{Priority, ThreadId};
