//! The fault kinds, modeled on the software-implemented fault injection
//! (SWIFI) campaign of MINIX 3 (Herder et al., "Fault isolation for device
//! drivers", DSN 2009), translated from x86 machine code to Wasm.

/// One kind of fault the injector can put into a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// `local.set`/`local.tee` writes another local of the same type.
    DestinationOperand,
    /// `local.get` reads another local of the same type, or a constant has a bit flipped.
    SourceOperand,
    /// A load's address has a bit flipped, or a store's offset moves.
    PointerCorrupted,
    /// One instruction is removed (its operands dropped, zeroes for its results).
    InstructionDeleted,
    /// A `br_if` or `if` condition is inverted.
    BranchInverted,
    /// An endless `loop br 0 end` is inserted at a random point.
    LoopInjected,
    /// An `unreachable` is inserted at a random point.
    RandomTrap,
    /// The last argument of a call has a bit flipped.
    CallArgumentCorrupted,
    /// The result of a host call is replaced by 0 (success), as if unchecked.
    HostResultIgnored,
    /// Every call to the `irq_ack` host function is removed (it "succeeds").
    IrqNotAcknowledged,
    /// `save_state` flips one byte of the state it hands over.
    StateCorruptedOnSave,
}

impl FaultKind {
    /// Every kind, in table order.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::DestinationOperand,
        FaultKind::SourceOperand,
        FaultKind::PointerCorrupted,
        FaultKind::InstructionDeleted,
        FaultKind::BranchInverted,
        FaultKind::LoopInjected,
        FaultKind::RandomTrap,
        FaultKind::CallArgumentCorrupted,
        FaultKind::HostResultIgnored,
        FaultKind::IrqNotAcknowledged,
        FaultKind::StateCorruptedOnSave,
    ];

    /// A short name for tables and command lines.
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::DestinationOperand => "destination",
            FaultKind::SourceOperand => "source",
            FaultKind::PointerCorrupted => "pointer",
            FaultKind::InstructionDeleted => "delete",
            FaultKind::BranchInverted => "branch",
            FaultKind::LoopInjected => "loop",
            FaultKind::RandomTrap => "trap",
            FaultKind::CallArgumentCorrupted => "argument",
            FaultKind::HostResultIgnored => "result",
            FaultKind::IrqNotAcknowledged => "irq-ack",
            FaultKind::StateCorruptedOnSave => "state",
        }
    }
}

impl core::fmt::Display for FaultKind {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(self.name())
    }
}
