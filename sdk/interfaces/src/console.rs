//! `console`: what reaches the console's server (the shell, or the echo-only
//! `console` module): text typed on the serial line or the keyboard, and the
//! kernel's answers and notices to the shell.
//!
//! Every operation is one-way: the drivers send typed text as it arrives,
//! one message per batch, and never wait for the server; the kernel's
//! supervisor sends the answer to a command line the shell sent it in
//! pieces (`answer`, the last with `last` set), and `redraw` after the
//! kernel printed on the terminal, so the shell draws its prompt and the
//! line typed so far again below the kernel's output.

crate::interface! {
    endpoint "console";
    /// Text typed on the serial line or the keyboard (UTF-8; at most
    /// [`MAX_INPUT_BYTES`]).
    once fn input(text: &str);
    /// A piece of the supervisor's answer to a command line, with `\r\n`
    /// line ends; `last` ends the answer.
    once fn answer(text: crate::uart::Bytes<'_>, last: bool);
    /// The kernel printed on the terminal: draw the prompt and the line
    /// typed so far again.
    idempotent fn redraw();
}

/// The most bytes of text one `input` carries: the 4,096-byte message limit
/// less its name (`input`), the zero byte after it and the 16-bit length.
pub const MAX_INPUT_BYTES: usize = 4096 - 8;

#[cfg(test)]
mod tests;
