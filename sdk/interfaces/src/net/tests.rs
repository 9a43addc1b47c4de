use super::*;
use crate::Text;
use crate::wire::Writer;
use core::fmt::Write as _;

/// A link that keeps what it was sent and answers `receive` with it.
struct Echo {
    kept: [u8; 1600],
    length: Option<usize>,
    packed: [u8; 1700],
    /// What a `receive_lent` wrote into the buffer lent with it.
    lent: [u8; 1700],
}

impl Server for Echo {
    fn info(&mut self) -> Result<Info, NetError> {
        Ok(Info {
            mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
            mtu: 1500,
            link_up: true,
        })
    }

    fn send(&mut self, frame: &[u8]) -> Result<Sent, NetError> {
        if frame.len() < MIN_FRAME_BYTES || frame.len() > MAX_FRAME_BYTES {
            return Err(NetError::BadLength);
        }
        self.kept[..frame.len()].copy_from_slice(frame);
        self.length = Some(frame.len());
        Ok(Sent {
            length: frame.len() as u16,
        })
    }

    fn receive(&mut self, wait_ms: u32) -> Result<Frames<'_>, NetError> {
        if wait_ms > MAX_WAIT_MS {
            return Err(NetError::BadArgument);
        }
        let Some(length) = self.length.take() else {
            return Ok(Frames {
                count: 0,
                dropped: 0,
                frames: &[],
            });
        };
        let mut writer = Writer::new(&mut self.packed);
        Wire::encode(&&self.kept[..length], &mut writer).map_err(|_| NetError::DeviceError)?;
        let packed = writer.length();
        Ok(Frames {
            count: 1,
            dropped: 0,
            frames: &self.packed[..packed],
        })
    }

    fn receive_lent(&mut self, wait_ms: u32) -> Result<Lent, NetError> {
        let frames = self.receive(wait_ms)?;
        let (count, dropped, bytes) = (frames.count, frames.dropped, frames.frames.len());
        let packed = self.packed;
        self.lent[..bytes].copy_from_slice(&packed[..bytes]);
        Ok(Lent {
            count,
            dropped,
            bytes: bytes as u32,
        })
    }
}

fn echo() -> Echo {
    Echo {
        kept: [0; 1600],
        length: None,
        packed: [0; 1700],
        lent: [0; 1700],
    }
}

#[test]
fn frames_pack_and_unpack_in_order() {
    let first = [1u8; 60];
    let second = [2u8; 342];
    let mut packed = [0u8; 512];
    let mut writer = Writer::new(&mut packed);
    Wire::encode(&&first[..], &mut writer).unwrap();
    Wire::encode(&&second[..], &mut writer).unwrap();
    let length = writer.length();
    let frames = Frames {
        count: 2,
        dropped: 3,
        frames: &packed[..length],
    };
    let mut decoded = frames.frames();
    assert_eq!(decoded.next(), Some(Ok(&first[..])));
    assert_eq!(decoded.next(), Some(Ok(&second[..])));
    assert_eq!(decoded.next(), None);
    let mut text = Text::default();
    write!(text, "{frames}").unwrap();
    assert_eq!(text.as_str(), "2 frames (60 bytes, 342 bytes), 3 dropped");
}

#[test]
fn a_count_past_the_bytes_ends_with_an_error() {
    let frames = Frames {
        count: 2,
        dropped: 0,
        frames: &[],
    };
    let mut decoded = frames.frames();
    assert!(matches!(decoded.next(), Some(Err(_))));
    assert_eq!(decoded.next(), None);
}

#[test]
fn a_frame_sent_comes_back_through_the_interface_encoding() {
    let mut server = echo();
    let mut request = [0u8; 2048];
    let mut reply = [0u8; 2048];
    let frame = [7u8; 98];
    let length = send::request(&mut request, &frame).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(send::reply(&reply[..answered]), Ok(Ok(Sent { length: 98 })));
    let length = receive::request(&mut request, 0).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    let frames = receive::reply(&reply[..answered]).unwrap().unwrap();
    assert_eq!(frames.count, 1);
    assert_eq!(frames.frames().next(), Some(Ok(&frame[..])));
    let length = send::request(&mut request, &[0u8; 13]).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        send::reply(&reply[..answered]),
        Ok(Err(NetError::BadLength))
    );
    let length = receive::request(&mut request, MAX_WAIT_MS + 1).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    assert!(matches!(
        receive::reply(&reply[..answered]),
        Ok(Err(NetError::BadArgument))
    ));
}

#[test]
fn a_lent_receive_answers_the_count_and_the_frames_decode_from_the_buffer() {
    let mut server = echo();
    let mut request = [0u8; 2048];
    let mut reply = [0u8; 2048];
    let frame: [u8; 200] = core::array::from_fn(|index| index as u8);
    let length = send::request(&mut request, &frame).unwrap();
    serve(&mut server, &request[..length], &mut reply).unwrap();
    let length = receive_lent::request(&mut request, 5).unwrap();
    let answered = serve(&mut server, &request[..length], &mut reply).unwrap();
    let lent = receive_lent::reply(&reply[..answered]).unwrap().unwrap();
    assert_eq!(lent.count, 1);
    // A length, then the frame: the answer itself carries none of its bytes.
    assert!(
        lent.bytes as usize > frame.len() && answered < 16,
        "{lent:?}"
    );
    let written = &server.lent[..lent.bytes as usize];
    let mut frames = lent.frames(written);
    assert_eq!(frames.next(), Some(Ok(&frame[..])));
    assert_eq!(frames.next(), None);
    // Cut short, the last frame does not decode.
    let mut cut = lent.frames(&written[..written.len() - 1]);
    assert!(matches!(cut.next(), Some(Err(_))));
    let mut text = Text::default();
    write!(text, "{lent}").unwrap();
    let mut expected = Text::default();
    write!(
        expected,
        "1 frames in {} bytes of the lent buffer, 0 dropped",
        lent.bytes
    )
    .unwrap();
    assert_eq!(text.as_str(), expected.as_str());
    assert!(idempotent(b"receive_lent\0\0\0\0\0").unwrap());
}

#[test]
fn the_link_reads_as_a_person_writes_it() {
    let mut text = Text::default();
    write!(text, "{}", echo().info().unwrap()).unwrap();
    assert_eq!(text.as_str(), "52:54:00:12:34:56, MTU 1500, link up");
    assert!(idempotent(b"receive\0\0\0\0\0").unwrap());
    assert!(!idempotent(b"send").unwrap());
}
