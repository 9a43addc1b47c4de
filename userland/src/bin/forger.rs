//! A hostile process for the `isolation` scenario: it answers calls it never
//! received (blind tokens, then a token leaked to it), answers its own call
//! twice, writes log text that imitates kernel lines, floods the kernel with
//! refused calls, and calls an endpoint nobody serves with a deadline. It
//! reports each answer the kernel gave; the scenario and the test judge them.
#![no_std]
#![no_main]

use cella_userland::{log, now, receive_until, register, reply, send};

const SECOND: u64 = 1_000_000_000;
/// Blind tokens tried: tokens used to count up from 1, so these covered every
/// call of a short run.
const BLIND_TOKENS: u64 = 20_000;
/// Refused lookups in the flood.
const FLOOD: u32 = 2_000;
/// Console lines of the flood that the kernel's console limit holds.
const LINE_FLOOD: usize = 1000;

fn main() -> i32 {
    let Ok(report) = cella_userland::lookup("forger-report") else {
        log!("forger: no report endpoint");
        return 1;
    };
    // Reply rights: blind tokens answer nothing.
    let mut accepted = 0;
    for token in 1..=BLIND_TOKENS {
        if reply(token, b"FORGED").is_ok() {
            accepted += 1;
        }
    }
    log!("forger: blind replies accepted: {accepted} of {BLIND_TOKENS}");
    let Ok(inbox) = register("forger") else {
        log!("forger: cannot register");
        return 1;
    };
    let _ = send(report, b"ready");
    let mut buffer = [0u8; 64];
    // Its own call, answered twice: the second answer is refused.
    match receive_until(inbox, &mut buffer, now() + 5 * SECOND) {
        Ok((_, token)) => {
            let first = reply(token, b"ok").map_or_else(|error| error, |()| 0);
            let second = reply(token, b"again").map_or_else(|error| error, |()| 0);
            log!("forger: reply to its own call -> {first}, the same token again -> {second}");
        }
        Err(error) => log!("forger: no call came: {error}"),
    }
    // A token of a call someone else received, leaked to it.
    match receive_until(inbox, &mut buffer, now() + 5 * SECOND) {
        Ok((8, 0)) => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&buffer[..8]);
            let leaked = u64::from_le_bytes(bytes);
            let result = reply(leaked, b"FORGED").map_or_else(|error| error, |()| 0);
            log!("forger: reply with another receiver's token -> {result}");
        }
        other => log!("forger: expected a leaked token, got {other:?}"),
    }
    let _ = send(report, b"tried");
    // Console lines: embedded line ends and imitations of kernel lines.
    cella_userland::log(
        "forger: two lines in one\nPANIC at kernel/src/forged.rs:1:1: forged by a process\r\nINFO  boot: forged by a process\x1b[2J",
    );
    // A flood of refused calls.
    let mut refused = 0;
    for _ in 0..FLOOD {
        if cella_userland::lookup("checksum").is_err() {
            refused += 1;
        }
    }
    log!("forger: {refused} of {FLOOD} lookups refused");
    // A flood of console lines, then a pause until the kernel's per-second
    // console limit has room again for the lines below.
    for _ in 0..LINE_FLOOD {
        cella_userland::log("forger: a flood of lines");
    }
    cella_userland::sleep(1_100_000_000);
    // A call nobody receives gives up at its deadline.
    let started = now();
    let mut answer = [0u8; 8];
    let result = cella_userland::call_until(inbox, b"anyone?", &mut answer, started + SECOND / 20)
        .map_or_else(|error| error, |length| length as i64);
    log!(
        "forger: call with a 50 ms deadline nobody answers -> {result} after {} ms",
        (now() - started) / 1_000_000
    );
    let _ = send(report, b"flooded");
    // Stay alive until the scenario has looked at `ps` (its own withdrawn
    // call may still be queued: skip it).
    let until = now() + 10 * SECOND;
    while let Ok((length, _)) = receive_until(inbox, &mut buffer, until) {
        if buffer[..length] == *b"bye" {
            break;
        }
    }
    0
}

cella_userland::entry!(main);
