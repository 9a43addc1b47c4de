//! The syscall fuzzer: random and targeted syscall sequences from a seed.
//!
//! It asks `fuzz-control` (a kernel thread of the `fuzz` scenario) for the
//! seed and the number of calls, then makes that many syscalls: random
//! numbers with arguments drawn from a pool of hostile values (kernel-half,
//! null, unmapped, non-canonical, misaligned and read-only pointers, huge
//! lengths, forged and stale handles and tokens), and targeted sequences
//! (replying twice or with a forged token to calls it received, IRQ
//! attaches until refused, lookups and registers it has no grant for,
//! calls with deadlines). Calls that could block or end the process get
//! bounded arguments (`exit` is never made; sleeps, receives and calls get
//! short deadlines). It writes only into its own scratch buffer. At the end
//! it logs a tally of the answers: every answer must be 0, a positive value
//! or one of the ABI's error codes.
#![no_std]
#![no_main]

use cella_userland::{log, now, number, syscall, syscall6};
use core::fmt::Write;

/// The only memory the kernel may write for the fuzzer (every valid pointer
/// it passes points in here).
static mut SCRATCH: [u8; 8192] = [0; 8192];

struct Random(u64);

impl Random {
    /// xorshift64*.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// Counts of the answers, by class.
#[derive(Default)]
struct Tally {
    /// Calls to make in all.
    limit: u64,
    calls: u64,
    ok: u64,
    errors: [u64; 32],
    unexpected: u64,
}

impl Tally {
    /// Whether another call is within the plan.
    fn room(&self) -> bool {
        self.calls < self.limit
    }

    fn record(&mut self, result: i64) {
        self.calls += 1;
        if result >= 0 {
            self.ok += 1;
        } else if let Some(code) = cella_abi::ErrorCode::from_syscall_code(result) {
            // One of the ABI's codes (`cella_abi::ErrorCode`).
            self.errors[code.code().unsigned_abs() as usize] += 1;
        } else {
            self.unexpected += 1;
        }
    }
}

fn scratch() -> u64 {
    (&raw mut SCRATCH) as u64
}

/// A hostile or valid value for any argument.
fn argument(random: &mut Random, handles: &[u64]) -> u64 {
    match random.below(16) {
        0 => 0,
        1 => 0xffff_ffff_8010_0000 + random.below(1 << 20), // kernel half
        2 => 0x0000_8000_0000_0000 + random.below(1 << 20), // non-canonical
        3 => 0x1000 + random.below(0x1000),                 // unmapped, low
        4 => 0x5000_0000 + random.below(1 << 20),           // unmapped
        5 => 0x40_0000 + random.below(0x100),               // read-only text
        6 => scratch() + random.below(4096),                // valid, maybe misaligned
        7 => scratch() + 8192 - random.below(64),           // runs off the scratch area
        8 => u64::MAX - random.below(16),                   // huge, wrapping
        9 => 1 << (32 + random.below(31)),                  // huge length
        10 => random.below(600),                            // small length or line
        11 => handles[random.below(handles.len() as u64) as usize], // live handle
        12 => handles[random.below(handles.len() as u64) as usize] ^ (1 << 16), // stale generation
        13 => random.below(1 << 16),                        // forged handle
        _ => random.next(),
    }
}

/// Makes one random syscall with bounded blocking.
fn random_call(random: &mut Random, handles: &[u64]) -> i64 {
    let number = if random.below(32) == 0 {
        random.next()
    } else {
        1 + random.below(24)
    };
    let mut arguments = [0u64; 6];
    for slot in &mut arguments {
        *slot = argument(random, handles);
    }
    match number {
        number::EXIT => return 0,
        number::SLEEP => arguments[0] %= 100_000,
        number::RECEIVE => arguments[4] = now(),
        number::CALL => arguments[5] = now() + 200_000,
        number::LOG if arguments[1] > 64 => arguments[1] %= 64,
        _ => {}
    }
    syscall6(number, arguments)
}

/// Receives what is queued on its endpoint (up to 8 messages: the one-way
/// messages it sends itself, and the calls of the scenario's caller thread)
/// and answers each call wrongly and rightly: forged tokens, the right one,
/// then the same again.
fn answer_calls(inbox: u64, tally: &mut Tally) {
    let buffer = scratch();
    for _ in 0..8 {
        // A receive and the four replies below, whole or not at all.
        if tally.limit - tally.calls < 5 {
            return;
        }
        let mut token = 0u64;
        let result = syscall(
            number::RECEIVE,
            [inbox, buffer, 64, (&raw mut token) as u64, now()],
        );
        tally.record(result);
        if result < 0 {
            return;
        }
        if token == 0 {
            continue;
        }
        // Two forged replies, the real one, and the same again (stale).
        for reply_token in [token ^ 1, token.wrapping_add(1), token, token] {
            tally.record(syscall(number::REPLY, [reply_token, buffer, 4, 0, 0]));
        }
    }
}

/// One targeted sequence.
fn targeted(random: &mut Random, handles: &[u64], inbox: u64, tally: &mut Tally) {
    let buffer = scratch();
    match random.below(8) {
        0 => answer_calls(inbox, tally),
        1 => {
            // A checksum call with a deadline, reply into the scratch page.
            tally.record(syscall6(
                number::CALL,
                [handles[1], buffer, 16, buffer + 64, 64, now() + 50_000_000],
            ));
        }
        2 => tally.record(syscall(
            number::IRQ_ATTACH,
            [5 + random.below(2), 0, 0, 0, 0],
        )),
        3 => {
            let name = b"fuzz-inbox";
            tally.record(syscall(
                number::REGISTER,
                [name.as_ptr() as u64, 10, 0, 0, 0],
            ));
            if tally.room() {
                let name = b"checksum";
                tally.record(syscall(number::LOOKUP, [name.as_ptr() as u64, 8, 0, 0, 0]));
            }
        }
        4 => tally.record(syscall(number::REPLY, [random.next(), buffer, 8, 0, 0])),
        5 => {
            // Granted but never registered: not found.
            let name = b"fuzz-nobody";
            tally.record(syscall(number::LOOKUP, [name.as_ptr() as u64, 11, 0, 0, 0]));
        }
        // Its own queue fills (nobody drains it but `answer_calls`): full.
        6 => tally.record(syscall(number::SEND, [inbox, buffer, 16, 0, 0])),
        // One byte over the ABI's message limit: too long.
        _ => tally.record(syscall(
            number::SEND,
            [
                inbox,
                buffer,
                u64::from(cella_abi::MAX_MESSAGE_BYTES) + 1,
                0,
                0,
            ],
        )),
    }
}

fn main() -> i32 {
    let Ok(control) = cella_userland::lookup("fuzz-control") else {
        log!("fuzz: no control endpoint");
        return 1;
    };
    let mut plan = [0u8; 16];
    if cella_userland::call(control, b"plan", &mut plan) != Ok(16) {
        log!("fuzz: no plan");
        return 1;
    }
    let mut word = [0u8; 8];
    word.copy_from_slice(&plan[..8]);
    let seed = u64::from_le_bytes(word);
    word.copy_from_slice(&plan[8..]);
    let calls = u64::from_le_bytes(word);
    let Ok(checksum) = cella_userland::lookup("checksum") else {
        log!("fuzz: no checksum endpoint");
        return 1;
    };
    let Ok(inbox) = cella_userland::register("fuzz-inbox") else {
        log!("fuzz: cannot register fuzz-inbox");
        return 1;
    };
    let handles = [u64::from(control), u64::from(checksum), u64::from(inbox)];
    let mut random = Random(seed | 1);
    let mut tally = Tally {
        limit: calls,
        ..Tally::default()
    };
    let started = now();
    while tally.room() {
        if random.below(8) == 0 {
            targeted(&mut random, &handles, u64::from(inbox), &mut tally);
        } else {
            let result = random_call(&mut random, &handles);
            tally.record(result);
        }
    }
    let elapsed = now() - started;
    // The random `log` calls above may have spent this second's console
    // lines (200 a second per process): wait for the next second, so the
    // tally is printed.
    cella_userland::sleep(1_100_000_000);
    let mut line = cella_userland::LineBuffer::new();
    let _ = write!(
        line,
        "fuzz: seed {seed:#x}: {} calls in {} ms: {} ok; errors",
        tally.calls,
        elapsed / 1_000_000,
        tally.ok
    );
    for code in cella_abi::ErrorCode::ALL.iter().skip(1) {
        let count = tally.errors[code.code().unsigned_abs() as usize];
        if count != 0 {
            let _ = write!(line, " {}:{count}", code.code());
        }
    }
    let _ = write!(line, "; unexpected {}", tally.unexpected);
    cella_userland::log(line.as_str());
    let _ = cella_userland::call(control, b"done", &mut plan);
    0
}

cella_userland::entry!(main);
