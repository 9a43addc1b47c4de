use super::*;
use crate::Text;
use core::fmt::Write as _;

/// A server that keeps the last bytes sent and answers with them.
struct Loopback {
    kept: [u8; MAX_TRANSFER_BYTES],
    length: usize,
}

const SOCKET: Handle = Handle {
    slot: 3,
    generation: 0x0001_0002,
};

impl Server for Loopback {
    fn listen(&mut self, port: u16) -> Result<Handle, SocketError> {
        if port == 0 {
            return Err(SocketError::BadArgument);
        }
        Ok(SOCKET)
    }

    fn accept(&mut self, listener: Handle) -> Result<Option<Handle>, SocketError> {
        if listener != SOCKET {
            return Err(SocketError::Stale);
        }
        Ok(None)
    }

    fn connect(&mut self, _address: Ipv4, _port: u16) -> Result<Handle, SocketError> {
        Err(SocketError::NoAddress)
    }

    fn send(&mut self, _socket: Handle, bytes: &[u8]) -> Result<Sent, SocketError> {
        if bytes.len() > MAX_TRANSFER_BYTES {
            return Err(SocketError::TooLong);
        }
        self.kept[..bytes.len()].copy_from_slice(bytes);
        self.length = bytes.len();
        Ok(Sent {
            length: bytes.len() as u32,
        })
    }

    fn receive(&mut self, _socket: Handle, max: u32) -> Result<Received<'_>, SocketError> {
        let length = self.length.min(max as usize);
        Ok(Received {
            bytes: &self.kept[..length],
            end: length == 0,
        })
    }

    fn state(&mut self, _socket: Handle) -> Result<SocketState, SocketError> {
        Ok(SocketState::PeerClosed)
    }

    fn close(&mut self, _socket: Handle) -> Result<(), SocketError> {
        Ok(())
    }

    fn bind(&mut self, _port: u16) -> Result<Handle, SocketError> {
        Err(SocketError::NoSockets)
    }

    fn send_to(
        &mut self,
        _socket: Handle,
        _address: Ipv4,
        _port: u16,
        bytes: &[u8],
    ) -> Result<Sent, SocketError> {
        self.send(SOCKET, bytes)
    }

    fn receive_from(&mut self, _socket: Handle) -> Result<Option<Datagram<'_>>, SocketError> {
        Ok(Some(Datagram {
            address: Ipv4([10, 0, 2, 2]),
            port: 53,
            bytes: &self.kept[..self.length],
        }))
    }

    fn address(&mut self) -> Result<Configuration, SocketError> {
        Ok(Configuration {
            address: Ipv4([10, 0, 2, 15]),
            prefix: 24,
            gateway: Ipv4([10, 0, 2, 2]),
            dhcp: Dhcp::Bound,
        })
    }

    fn open_echo(&mut self) -> Result<Handle, SocketError> {
        Ok(SOCKET)
    }

    fn send_echo(
        &mut self,
        _socket: Handle,
        _address: Ipv4,
        _sequence: u16,
        bytes: &[u8],
    ) -> Result<Sent, SocketError> {
        if bytes.len() > MAX_ECHO_BYTES {
            return Err(SocketError::TooLong);
        }
        self.send(SOCKET, bytes)
    }

    fn receive_echo(&mut self, _socket: Handle) -> Result<Option<EchoReply<'_>>, SocketError> {
        if self.length == 0 {
            return Ok(None);
        }
        Ok(Some(EchoReply {
            address: Ipv4([10, 0, 2, 2]),
            sequence: 9,
            bytes: &self.kept[..self.length],
        }))
    }
}

fn loopback() -> Loopback {
    Loopback {
        kept: [0; MAX_TRANSFER_BYTES],
        length: 0,
    }
}

fn rendered(request: &[u8], reply: &[u8]) -> Text {
    let mut text = Text::default();
    render_reply(request, reply, &mut text).unwrap();
    text
}

#[test]
fn the_largest_requests_and_answers_fit_one_message() {
    let mut server = loopback();
    let mut request = [0u8; 4096];
    let mut reply = [0u8; 4096];
    let bytes = [0xa5u8; MAX_TRANSFER_BYTES];
    let length = send::request(&mut request, SOCKET, &bytes).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        send::reply(&reply[..answered]),
        Ok(Ok(Sent {
            length: MAX_TRANSFER_BYTES as u32
        }))
    );
    let length = receive::request(&mut request, SOCKET, MAX_TRANSFER_BYTES as u32).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    let received = receive::reply(&reply[..answered]).unwrap().unwrap();
    assert_eq!(received.bytes, &bytes[..]);
    assert!(!received.end);
    let datagram = [7u8; MAX_DATAGRAM_BYTES];
    let address = Ipv4([10, 0, 2, 2]);
    let length = send_to::request(&mut request, SOCKET, address, 9, &datagram).unwrap();
    assert!(length <= 4096);
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        send_to::reply(&reply[..answered]),
        Ok(Ok(Sent {
            length: MAX_DATAGRAM_BYTES as u32
        }))
    );
    let length = receive_from::request(&mut request, SOCKET).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    let datagram = receive_from::reply(&reply[..answered])
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(datagram.address, address);
    assert_eq!(datagram.port, 53);
    assert_eq!(datagram.bytes.len(), MAX_DATAGRAM_BYTES);
    // A transfer of 4,096 bytes does not fit one request.
    assert_eq!(
        send::request(&mut request, SOCKET, &[0u8; 4096]),
        Err(WireError::Full)
    );
}

#[test]
fn handles_options_and_errors_round_trip() {
    let mut server = loopback();
    let mut request = [0u8; 64];
    let mut reply = [0u8; 64];
    let length = listen::request(&mut request, 80).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(listen::reply(&reply[..answered]), Ok(Ok(SOCKET)));
    let length = listen::request(&mut request, 0).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        listen::reply(&reply[..answered]),
        Ok(Err(SocketError::BadArgument))
    );
    let length = accept::request(&mut request, SOCKET).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(accept::reply(&reply[..answered]), Ok(Ok(None)));
    let other = Handle {
        slot: 3,
        generation: 1,
    };
    let length = accept::request(&mut request, other).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        accept::reply(&reply[..answered]),
        Ok(Err(SocketError::Stale))
    );
    let length = close::request(&mut request, SOCKET).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(close::reply(&reply[..answered]), Ok(Ok(())));
    // The empty receive of a closed stream says so.
    let length = receive::request(&mut request, SOCKET, 10).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        receive::reply(&reply[..answered]),
        Ok(Ok(Received {
            bytes: &[],
            end: true
        }))
    );
}

#[test]
fn garbage_requests_and_answers_are_refused() {
    let mut server = loopback();
    let mut reply = [0u8; 64];
    assert_eq!(
        serve(&mut server, b"launch", &mut reply),
        Err(WireError::UnknownOperation)
    );
    assert_eq!(
        serve(&mut server, b"listen\0\x50", &mut reply),
        Err(WireError::Truncated)
    );
    assert_eq!(
        serve(&mut server, b"listen\0\x50\0\0", &mut reply),
        Err(WireError::TrailingBytes)
    );
    assert_eq!(state::reply(&[0, 99]), Err(WireError::BadValue));
    assert_eq!(accept::reply(&[0, 2]), Err(WireError::BadValue));
    assert_eq!(address::reply(&[1, 200]), Err(WireError::BadValue));
}

#[test]
fn a_person_types_addresses_and_reads_the_answers() {
    let mut request = [0u8; 64];
    let length = request_from_text("connect 10.0.2.2 8080", &mut request).unwrap();
    let expected = connect::request(&mut [0u8; 64], Ipv4([10, 0, 2, 2]), 8080).unwrap();
    assert_eq!(length, expected);
    assert_eq!(&request[..7], b"connect");
    assert_eq!(&request[8..12], &[10, 0, 2, 2]);
    for bad in [
        "10.0.2",
        "10.0.2.2.1",
        "10.0.2.256",
        "10..2.2",
        "10.0.2.+2",
        "ten.0.2.2",
    ] {
        let line = format_line(bad);
        assert_eq!(
            request_from_text(line.as_str(), &mut request),
            Err(WireError::BadArgument),
            "{bad}"
        );
    }
    let mut server = loopback();
    let mut reply = [0u8; 64];
    let length = request_from_text("address", &mut request).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        rendered(&request[..length], &reply[..answered]).as_str(),
        "10.0.2.15/24, gateway 10.0.2.2, by DHCP"
    );
    let length = request_from_text("connect 10.0.2.2 80", &mut request).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        rendered(&request[..length], &reply[..answered]).as_str(),
        "error: no address yet"
    );
    let length = request_from_text("bind 0", &mut request).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        rendered(&request[..length], &reply[..answered]).as_str(),
        "error: no sockets left"
    );
    let discovering = Configuration {
        address: Ipv4::default(),
        prefix: 0,
        gateway: Ipv4::default(),
        dhcp: Dhcp::Discovering,
    };
    let mut text = Text::default();
    write!(text, "{discovering}").unwrap();
    assert_eq!(text.as_str(), "no address yet (DHCP discovering)");
    assert_eq!(crate::idempotent(ENDPOINT, b"state"), Some(true));
    assert_eq!(crate::idempotent(ENDPOINT, b"receive"), Some(false));
    assert!(crate::operations(ENDPOINT).is_some());
}

/// `connect ADDRESS 80` in a small buffer.
fn format_line(address: &str) -> Text {
    let mut text = Text::default();
    write!(text, "connect {address} 80").unwrap();
    text
}

#[test]
fn a_person_types_a_handle_as_the_server_shows_it() {
    let handle = Handle {
        slot: 3,
        generation: 17,
    };
    let mut request = [0u8; 64];
    let length = request_from_text("close 3.17", &mut request).unwrap();
    assert_eq!(length, close::request(&mut [0u8; 64], handle).unwrap());
    let mut text = Text::default();
    write!(text, "{handle}").unwrap();
    assert_eq!(text.as_str(), "socket 3.17");
    for bad in ["3", "3.", ".17", "3.17.1", "3.x", "-3.17", "3 17"] {
        let mut line = Text::default();
        write!(line, "close {bad}").unwrap();
        assert_eq!(
            request_from_text(line.as_str(), &mut request),
            Err(WireError::BadArgument),
            "{bad}"
        );
    }
}

#[test]
fn echo_requests_and_replies_round_trip() {
    let mut server = loopback();
    let mut request = [0u8; 4096];
    let mut reply = [0u8; 4096];
    let length = receive_echo::request(&mut request, SOCKET).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(receive_echo::reply(&reply[..answered]), Ok(Ok(None)));
    let payload = [0x5au8; MAX_ECHO_BYTES];
    let address = Ipv4([10, 0, 2, 2]);
    let length = send_echo::request(&mut request, SOCKET, address, 9, &payload).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        send_echo::reply(&reply[..answered]),
        Ok(Ok(Sent {
            length: MAX_ECHO_BYTES as u32
        }))
    );
    let length = receive_echo::request(&mut request, SOCKET).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    let echo = receive_echo::reply(&reply[..answered])
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((echo.address, echo.sequence), (address, 9));
    assert_eq!(echo.bytes, &payload[..]);
    assert_eq!(
        rendered(&request[..length], &reply[..answered]).as_str(),
        "1464 bytes from 10.0.2.2, sequence 9"
    );
    let too_long = [0u8; MAX_ECHO_BYTES + 1];
    let length = send_echo::request(&mut request, SOCKET, address, 1, &too_long).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        send_echo::reply(&reply[..answered]),
        Ok(Err(SocketError::TooLong))
    );
    let length = request_from_text("open_echo", &mut request).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(open_echo::reply(&reply[..answered]), Ok(Ok(SOCKET)));
}
