//! The global descriptor table and the task state segment.
//!
//! Long mode barely uses segmentation, but the CPU still needs a code and a
//! data segment, and a TSS for its interrupt stack table: the double-fault
//! handler runs on its own stack, so even a kernel stack overflow (which
//! faults again while pushing the page-fault frame) is reported, never a
//! silent triple fault.

use super::port_io::PortRange;
use super::stacks::DOUBLE_FAULT_STACK;
use core::cell::UnsafeCell;
use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::registers::segmentation::SegmentSelector;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};
use x86_64::structures::tss::TaskStateSegment;

/// Interrupt stack table slot used by the double-fault handler.
pub const DOUBLE_FAULT_STACK_INDEX: u16 = 0;

struct Selectors {
    code: SegmentSelector,
    data: SegmentSelector,
    task_state: SegmentSelector,
}

/// Kernel code selector (`SYSCALL` loads it; the kernel data selector is 8 above).
pub const KERNEL_CODE_SELECTOR: u16 = 0x08;
/// Kernel data selector.
pub const KERNEL_DATA_SELECTOR: u16 = 0x10;
/// User data selector with RPL 3 (`SYSRET` loads the base + 8).
pub const USER_DATA_SELECTOR: u16 = 0x18 | 3;
/// User code selector with RPL 3 (`SYSRET` loads the base + 16).
pub const USER_CODE_SELECTOR: u16 = 0x20 | 3;

/// Bytes of the I/O permission bitmap: one bit per port, plus the terminating 0xff byte.
pub const IO_BITMAP_BYTES: usize = 8192 + 1;

/// The TSS with its I/O permission bitmap right behind it (a set bit denies the
/// port to ring 3). Both change at run time: `rsp0` on every thread switch, the
/// bitmap when a native process with port grants is switched in.
#[repr(C)]
struct TaskState {
    segment: TaskStateSegment,
    io_bitmap: [u8; IO_BITMAP_BYTES],
}

struct SharedTaskState(UnsafeCell<TaskState>);

// SAFETY: the TSS is written only with interrupts off on the one CPU (thread
// switches), and read by the CPU itself; there is no concurrent access.
unsafe impl Sync for SharedTaskState {}

static TASK_STATE: SharedTaskState = SharedTaskState(UnsafeCell::new(TaskState {
    segment: TaskStateSegment::new(),
    io_bitmap: [0xff; IO_BITMAP_BYTES],
}));
static TABLE: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// Sets the stack the CPU switches to on an interrupt or exception from ring 3 (`rsp0`).
pub(super) fn set_kernel_stack(top: u64) {
    // SAFETY: a plain store into the static TSS (see `SharedTaskState`); the
    // CPU reads the field only when it takes an interrupt from ring 3.
    unsafe { (*TASK_STATE.0.get()).segment.privilege_stack_table[0] = VirtAddr::new(top) };
}

/// Sets the I/O permission bitmap: ports in `allowed` become usable from
/// ring 3, every other port faults there with #GP. A [`PortRange`] never
/// holds one of the kernel's own ports.
pub fn set_io_permissions(allowed: &[PortRange]) {
    // SAFETY: as in `set_kernel_stack`: writes into the static TSS's bitmap
    // with interrupts off (callers switch threads), read only by the CPU.
    let bitmap = unsafe { &mut (*TASK_STATE.0.get()).io_bitmap };
    bitmap.fill(0xff);
    for range in allowed {
        let first = u32::from(range.first());
        for port in first..(first + range.count()).min(0x1_0000) {
            bitmap[(port / 8) as usize] &= !(1 << (port % 8));
        }
    }
}

/// Loads the GDT and TSS and reloads the segment registers. Call once, early.
pub fn initialise() {
    // SAFETY: set up before the TSS is loaded, with interrupts off; nothing
    // else reads it yet.
    unsafe {
        let state = &mut *TASK_STATE.0.get();
        state.segment.interrupt_stack_table[usize::from(DOUBLE_FAULT_STACK_INDEX)] =
            VirtAddr::new(DOUBLE_FAULT_STACK.top());
        state.segment.iomap_base = core::mem::size_of::<TaskStateSegment>() as u16;
    }
    let (table, selectors) = TABLE.call_once(|| {
        let mut table = GlobalDescriptorTable::new();
        let code = table.append(Descriptor::kernel_code_segment());
        let data = table.append(Descriptor::kernel_data_segment());
        // SYSRET needs user data then user code right after the kernel's pair.
        table.append(Descriptor::user_data_segment());
        table.append(Descriptor::user_code_segment());
        // SAFETY: the TSS and its bitmap live in a static for the kernel's
        // whole life; the references exist only while the descriptor is built
        // (it keeps the address, not the reference).
        let descriptor = unsafe {
            let state = &*TASK_STATE.0.get();
            Descriptor::tss_segment_with_iomap(&state.segment, &state.io_bitmap)
        }
        .expect("the bitmap lies right after the TSS and ends with 0xff");
        let task_state = table.append(descriptor);
        (
            table,
            Selectors {
                code,
                data,
                task_state,
            },
        )
    });
    table.load();
    // SAFETY: the selectors index descriptors of the table just loaded, which
    // lives in a static for the rest of the kernel's life; the code segment is
    // a 64-bit kernel code segment, so execution continues unchanged.
    unsafe {
        CS::set_reg(selectors.code);
        SS::set_reg(selectors.data);
        DS::set_reg(selectors.data);
        ES::set_reg(selectors.data);
        load_tss(selectors.task_state);
    }
}
