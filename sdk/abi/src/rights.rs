//! The rights an endpoint capability carries: one set of flags for every
//! holder, a Wasm module's capability table and a native process's alike.

use core::fmt;

bitflags::bitflags! {
    /// What an endpoint capability lets its holder do.
    ///
    /// A module holds [`Rights::SEND`] on each endpoint its manifest requests
    /// (`endpoint NAME`, granted by the system manifest) and
    /// [`Rights::RECEIVE`] on each endpoint it serves; a native process holds
    /// the rights its syscalls were given. A send or call through a handle
    /// without [`Rights::SEND`] is refused with
    /// [`ErrorCode::Denied`](crate::ErrorCode::Denied).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Rights: u8 {
        /// Send messages to the endpoint and call it (the client's side).
        const SEND = 1;
        /// Take the endpoint's messages and answer them (the server's side).
        const RECEIVE = 1 << 1;
    }
}

/// The rights in plain words, as `caps` shows them: `send`, `receive`,
/// `send and receive`, or `no rights`.
impl fmt::Display for Rights {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let send = self.contains(Rights::SEND);
        let receive = self.contains(Rights::RECEIVE);
        formatter.write_str(match (send, receive) {
            (true, true) => "send and receive",
            (true, false) => "send",
            (false, true) => "receive",
            (false, false) => "no rights",
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::Rights;
    use std::string::ToString;

    #[test]
    fn rights_read_as_plain_words() {
        assert_eq!(Rights::SEND.to_string(), "send");
        assert_eq!(Rights::RECEIVE.to_string(), "receive");
        assert_eq!(
            (Rights::SEND | Rights::RECEIVE).to_string(),
            "send and receive"
        );
        assert_eq!(Rights::empty().to_string(), "no rights");
    }

    #[test]
    fn the_two_rights_are_distinct_bits() {
        assert_eq!(Rights::SEND.bits(), 1);
        assert_eq!(Rights::RECEIVE.bits(), 2);
        assert!(!Rights::RECEIVE.contains(Rights::SEND));
        assert_eq!(Rights::from_bits(4), None);
    }
}
