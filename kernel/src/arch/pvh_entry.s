/* PVH entry: QEMU's `-kernel` jumps here in 32-bit protected mode, paging off,
 * no stack, with %ebx = physical address of hvm_start_info. This code runs at
 * its load address (identity), turns on long mode with boot page tables that
 * map the first 4 GiB twice (identity, and at KERNEL_OFFSET for the first
 * 2 GiB), then jumps to the Rust entry point in the higher half.
 * Operands filled in by global_asm!: kernel_entry, boot_stack, boot_stack_top_offset. */

/* The ELF note QEMU looks for: XEN_ELFNOTE_PHYS32_ENTRY (18), name "Xen". */
.section .note.Xen, "a", @note
.p2align 2
.long 4
.long 8
.long 18
.asciz "Xen"
.p2align 2
.quad pvh_entry32
.p2align 2

.section .boot.bss, "aw", @nobits
.p2align 12
boot_pml4: .skip 4096
boot_pdpt_low: .skip 4096
boot_pdpt_high: .skip 4096
boot_page_directories: .skip 4 * 4096
boot_tables_end:

.section .boot.text, "ax"
.code32
.global pvh_entry32
pvh_entry32:
    cli
    cld
    mov %ebx, %esi
    cmpl $0x336ec578, (%ebx)
    jne bad_magic

    /* Zero the kernel's .bss and the boot page tables. */
    mov $__bss_start_physical, %edi
    mov $__bss_end_physical, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb
    mov $boot_pml4, %edi
    mov $(boot_tables_end - boot_pml4), %ecx
    rep stosb

    /* PML4[0] -> identity PDPT, PML4[511] -> higher-half PDPT. */
    mov $boot_pdpt_low, %eax
    or $3, %eax
    mov %eax, boot_pml4
    mov $boot_pdpt_high, %eax
    or $3, %eax
    mov %eax, boot_pml4 + 511 * 8

    /* Identity PDPT entries 0..3 -> the four page directories (4 GiB). */
    mov $boot_page_directories, %eax
    or $3, %eax
    mov %eax, boot_pdpt_low
    add $4096, %eax
    mov %eax, boot_pdpt_low + 8
    add $4096, %eax
    mov %eax, boot_pdpt_low + 16
    add $4096, %eax
    mov %eax, boot_pdpt_low + 24

    /* Higher half: 0xffffffff80000000 (PDPT entry 510) -> physical 0. */
    mov $boot_page_directories, %eax
    or $3, %eax
    mov %eax, boot_pdpt_high + 510 * 8
    add $4096, %eax
    mov %eax, boot_pdpt_high + 511 * 8

    /* 2048 large pages: entry i maps i * 2 MiB, present + writable + large. */
    mov $boot_page_directories, %edi
    mov $0x83, %eax
    mov $2048, %ecx
1:  mov %eax, (%edi)
    movl $0, 4(%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 1b

    /* CR4.PAE, CR3, EFER.LME|NXE, then CR0.PG|WP|PE. */
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $0x900, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax
    mov %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $pvh_entry64

bad_magic:
    /* No console yet: say why on COM1 by hand, then fail QEMU's exit device. */
    mov $bad_magic_message, %esi
2:  lodsb
    test %al, %al
    jz 3f
    mov $0x3f8, %dx
    out %al, %dx
    jmp 2b
3:  mov $0xf4, %dx
    mov $0x11, %eax
    out %eax, %dx
4:  hlt
    jmp 4b

.code64
pvh_entry64:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    movabs ${boot_stack} + {boot_stack_top_offset}, %rsp
    xor %ebp, %ebp
    mov %esi, %edi
    movabs ${kernel_entry}, %rax
    call *%rax
    ud2

.p2align 3
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
bad_magic_message:
    .asciz "cella: not started by a PVH loader (bad hvm_start_info magic)\n"
