//! `console`: what reaches the console's server (the shell, or the echo-only
//! `console` module): text typed on the serial line or the keyboard, and the
//! kernel's notice to the shell after it printed on the terminal.
//!
//! Every operation is one-way: the drivers send typed text as it arrives,
//! one message per batch, and never wait for the server; the kernel sends
//! `redraw` after it printed on the terminal, so the shell draws its prompt
//! and the line typed so far again below the kernel's output. The answers
//! to the shell's commands do not come here: they are replies to its calls
//! of the `supervisor` interface.

crate::interface! {
    endpoint "console";
    /// Text typed on the serial line or the keyboard (UTF-8; at most
    /// [`MAX_INPUT_BYTES`]).
    once fn input(text: &str);
    /// The kernel printed on the terminal: draw the prompt and the line
    /// typed so far again.
    idempotent fn redraw();
}

/// The most bytes of text one `input` carries: the 4,096-byte message limit
/// less its name (`input`), the zero byte after it and the 16-bit length.
pub const MAX_INPUT_BYTES: usize = 4096 - 8;

#[cfg(test)]
mod tests;
