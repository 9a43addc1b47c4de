//! The global descriptor table and the task state segment.
//!
//! Long mode barely uses segmentation, but the CPU still needs a code and a
//! data segment, and a TSS for its interrupt stack table: the double-fault
//! handler runs on its own stack, so even a kernel stack overflow (which
//! faults again while pushing the page-fault frame) is reported, never a
//! silent triple fault.

use super::stacks::DOUBLE_FAULT_STACK;
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

static TASK_STATE: Once<TaskStateSegment> = Once::new();
static TABLE: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// Loads the GDT and TSS and reloads the segment registers. Call once, early.
pub fn initialise() {
    let task_state = TASK_STATE.call_once(|| {
        let mut task_state = TaskStateSegment::new();
        task_state.interrupt_stack_table[usize::from(DOUBLE_FAULT_STACK_INDEX)] =
            VirtAddr::new(DOUBLE_FAULT_STACK.top());
        task_state
    });
    let (table, selectors) = TABLE.call_once(|| {
        let mut table = GlobalDescriptorTable::new();
        let code = table.append(Descriptor::kernel_code_segment());
        let data = table.append(Descriptor::kernel_data_segment());
        let task_state = table.append(Descriptor::tss_segment(task_state));
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
