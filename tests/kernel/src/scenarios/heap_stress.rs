//! The heap scenario: many sizes, frees and reallocations, every byte checked.
//!
//! Each live block is filled with a pattern derived from its seed, so any
//! overlap between blocks, lost data on reallocation or corruption of the
//! allocator's own lists shows up as a mismatch. At the end every block is
//! freed and the heap's use must return to where it started.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_kernel::mm::heap;

const ROUNDS: u32 = 30_000;
const MAX_LIVE_BLOCKS: usize = 600;

struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, limit: u64) -> usize {
        (self.next() % limit) as usize
    }
}

fn pattern(seed: u64, index: usize) -> u8 {
    (seed.wrapping_mul(31).wrapping_add(index as u64 * 7) >> 3) as u8
}

struct Block {
    seed: u64,
    bytes: Vec<u8>,
}

impl Block {
    fn new(seed: u64, size: usize) -> Self {
        Self {
            seed,
            bytes: (0..size).map(|index| pattern(seed, index)).collect(),
        }
    }

    fn check(&self) -> Result<(), String> {
        match self
            .bytes
            .iter()
            .enumerate()
            .find(|&(index, &byte)| byte != pattern(self.seed, index))
        {
            Some((index, byte)) => Err(format!(
                "block with seed {} ({} bytes) has {byte:#x} at {index}, expected {:#x}",
                self.seed,
                self.bytes.len(),
                pattern(self.seed, index)
            )),
            None => Ok(()),
        }
    }

    fn resize(&mut self, size: usize) {
        let old = self.bytes.len();
        self.bytes.resize(size, 0);
        for index in old..size {
            self.bytes[index] = pattern(self.seed, index);
        }
        if size < old / 4 {
            self.bytes.shrink_to_fit();
        }
    }
}

fn random_size(random: &mut Random) -> usize {
    match random.below(100) {
        0..=49 => 1 + random.below(64),
        50..=89 => 65 + random.below(4096),
        90..=98 => 4096 + random.below(64 * 1024),
        _ => 64 * 1024 + random.below(512 * 1024),
    }
}

pub fn run() -> Result<(), String> {
    let used_before = heap::statistics().used;
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut blocks: Vec<Block> = Vec::new();
    let (mut allocations, mut frees, mut reallocations, mut bytes_checked) =
        (0u64, 0u64, 0u64, 0u64);
    for round in 0..u64::from(ROUNDS) {
        match random.below(4) {
            0 | 1 if blocks.len() < MAX_LIVE_BLOCKS => {
                blocks.push(Block::new(round, random_size(&mut random)));
                allocations += 1;
            }
            0..=2 if !blocks.is_empty() => {
                let block = blocks.swap_remove(random.below(blocks.len() as u64));
                block.check()?;
                bytes_checked += block.bytes.len() as u64;
                frees += 1;
            }
            3 if !blocks.is_empty() => {
                let index = random.below(blocks.len() as u64);
                blocks[index].check()?;
                let size = random_size(&mut random);
                blocks[index].resize(size);
                blocks[index].check()?;
                reallocations += 1;
            }
            _ => {}
        }
    }
    for block in &blocks {
        block.check()?;
        bytes_checked += block.bytes.len() as u64;
    }
    drop(blocks);

    // Small fixed-size objects in a tree: many tiny allocations and frees.
    let mut tree: BTreeMap<u64, Box<[u64]>> = BTreeMap::new();
    for key in 0..4000u64 {
        let length = (key % 17 + 1) as usize;
        tree.insert(key, (0..length as u64).map(|value| value ^ key).collect());
        if key % 3 == 0 {
            tree.remove(&(key / 2));
        }
    }
    for (key, values) in &tree {
        if values
            .iter()
            .enumerate()
            .any(|(index, &value)| value != index as u64 ^ key)
        {
            return Err(format!("tree entry {key} was corrupted"));
        }
    }
    let tree_entries = tree.len();
    drop(tree);

    let used_after = heap::statistics().used;
    if used_after != used_before {
        return Err(format!(
            "heap use was {used_before} bytes before and {used_after} after freeing everything"
        ));
    }
    cella_kernel::kprintln!(
        "scenario heap: {allocations} allocations, {reallocations} reallocations, {frees} frees, \
         {bytes_checked} bytes checked, {tree_entries} tree entries; heap use back to {used_after} bytes"
    );
    Ok(())
}
