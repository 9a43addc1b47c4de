//! [`ByteQueue`]: a bounded FIFO of bytes with no heap.

use crate::error::{ErrorCode, Result};

/// A first-in first-out queue of at most `N` bytes. It never grows: a push
/// that does not fit is refused whole with [`ErrorCode::Exhausted`], so a
/// caller can tell its sender "not now" without losing or splitting data.
///
/// ```
/// let mut queue = cella_sdk::ByteQueue::<4>::new();
/// queue.push_all(b"abc").unwrap();
/// assert!(queue.push_all(b"de").is_err()); // refused whole
/// assert_eq!(queue.pop(), Some(b'a'));
/// assert_eq!(queue.len(), 2);
/// ```
#[derive(Clone)]
pub struct ByteQueue<const N: usize> {
    bytes: [u8; N],
    head: usize,
    length: usize,
}

impl<const N: usize> Default for ByteQueue<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ByteQueue<N> {
    /// An empty queue.
    pub const fn new() -> Self {
        ByteQueue {
            bytes: [0; N],
            head: 0,
            length: 0,
        }
    }

    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.length
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Room left.
    pub fn free(&self) -> usize {
        N - self.length
    }

    /// Appends every byte of `data`, or none of them.
    ///
    /// # Errors
    /// [`ErrorCode::Exhausted`] when `data` does not fit.
    pub fn push_all(&mut self, data: &[u8]) -> Result<()> {
        if data.len() > self.free() {
            return Err(ErrorCode::Exhausted);
        }
        for &byte in data {
            let tail = (self.head + self.length) % N;
            if let Some(slot) = self.bytes.get_mut(tail) {
                *slot = byte;
            }
            self.length += 1;
        }
        Ok(())
    }

    /// Appends one byte.
    ///
    /// # Errors
    /// [`ErrorCode::Exhausted`] when full.
    pub fn push(&mut self, byte: u8) -> Result<()> {
        self.push_all(&[byte])
    }

    /// The oldest byte, without removing it.
    pub fn peek(&self) -> Option<u8> {
        if self.length == 0 {
            return None;
        }
        self.bytes.get(self.head).copied()
    }

    /// Removes and returns the oldest byte.
    pub fn pop(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.head = (self.head + 1) % N;
        self.length -= 1;
        Some(byte)
    }

    /// Copies the oldest bytes into `out` without removing them; returns how
    /// many were copied.
    pub fn peek_into(&self, out: &mut [u8]) -> usize {
        let count = out.len().min(self.length);
        for (index, slot) in out.iter_mut().take(count).enumerate() {
            *slot = self
                .bytes
                .get((self.head + index) % N)
                .copied()
                .unwrap_or(0);
        }
        count
    }

    /// Drops the `count` oldest bytes (all of them if fewer are queued).
    pub fn discard(&mut self, count: usize) {
        let count = count.min(self.length);
        if N > 0 {
            self.head = (self.head + count) % N;
        }
        self.length -= count;
    }

    /// Empties the queue.
    pub fn clear(&mut self) {
        self.head = 0;
        self.length = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_refuses_whole() {
        let mut queue = ByteQueue::<3>::new();
        assert_eq!(queue.pop(), None);
        queue.push_all(b"ab").unwrap();
        assert_eq!(queue.pop(), Some(b'a'));
        queue.push_all(b"cd").unwrap();
        assert_eq!(queue.push(b'e'), Err(ErrorCode::Exhausted));
        let mut out = [0; 8];
        assert_eq!(queue.peek_into(&mut out), 3);
        assert_eq!(&out[..3], b"bcd");
        queue.discard(2);
        assert_eq!(queue.pop(), Some(b'd'));
        assert!(queue.is_empty());
        let mut empty = ByteQueue::<0>::new();
        assert!(empty.push(1).is_err());
        empty.discard(5);
        assert_eq!(empty.pop(), None);
    }
}
