//! Table memory for host tests: frames in a map, with an allocation limit
//! and a record of what was freed.

use crate::mm::iommu::page_table::{ENTRIES, TableMemory};
use std::collections::BTreeMap;
use std::vec::Vec;

pub struct FakeMemory {
    pub tables: BTreeMap<u64, Vec<u64>>,
    pub next: u64,
    /// Tables that may still be allocated.
    pub left: usize,
    pub freed: Vec<u64>,
}

impl FakeMemory {
    pub fn new(left: usize) -> Self {
        Self {
            tables: BTreeMap::new(),
            next: 0x10_0000,
            left,
            freed: Vec::new(),
        }
    }

    /// Tables allocated and not freed.
    pub fn live(&self) -> usize {
        self.tables.len()
    }
}

impl TableMemory for FakeMemory {
    fn allocate_table(&mut self) -> Option<u64> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let frame = self.next;
        self.next += 0x1000;
        self.tables.insert(frame, vec![0; ENTRIES]);
        Some(frame)
    }

    fn read_entry(&self, table: u64, index: usize) -> u64 {
        self.tables.get(&table).expect("a live table")[index]
    }

    fn write_entry(&mut self, table: u64, index: usize, value: u64) {
        self.tables.get_mut(&table).expect("a live table")[index] = value;
    }

    fn free_table(&mut self, table: u64) {
        assert!(
            self.tables.remove(&table).is_some(),
            "freed twice: {table:#x}"
        );
        self.freed.push(table);
    }
}
