//! The shell's `call sockets` lines the network tests type.

use crate::{Session, word_after};

/// Binds a UDP socket to `port` with `call sockets bind PORT` and closes it
/// again with the handle the answer names: both must succeed, so the socket
/// table has room. Returns the handle.
pub fn bind_and_close(session: &mut Session, port: u16) -> String {
    let bound = session.type_line(&format!("call sockets bind {port}"));
    let Some(handle) = word_after(&bound, "reply from sockets: socket ") else {
        session.fail(format!(
            "`call sockets bind {port}` gave no handle:\n{bound}"
        ));
    };
    let handle = handle.to_owned();
    session.expect_answer(&format!("call sockets close {handle}"), "done");
    handle
}
