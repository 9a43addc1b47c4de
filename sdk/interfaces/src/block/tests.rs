use super::*;
use core::fmt::Write as _;

const SECTORS: usize = 16;

/// A disk in memory that answers at once.
struct Memory {
    bytes: [u8; SECTORS * SECTOR_BYTES as usize],
    read_only: bool,
    flushes: u32,
}

impl Memory {
    fn new() -> Memory {
        Memory {
            bytes: [0; SECTORS * SECTOR_BYTES as usize],
            read_only: false,
            flushes: 0,
        }
    }

    fn range(&self, sector: u64, count: usize) -> Result<core::ops::Range<usize>, BlockError> {
        if count == 0 {
            return Err(BlockError::BadLength);
        }
        if count > usize::from(MAX_SECTORS) {
            return Err(BlockError::TooLong);
        }
        let start = usize::try_from(sector).map_err(|_| BlockError::OutOfRange)?;
        if start + count > SECTORS {
            return Err(BlockError::OutOfRange);
        }
        Ok(start * 512..(start + count) * 512)
    }
}

impl Server for Memory {
    fn capacity(&mut self) -> Result<Capacity, BlockError> {
        Ok(Capacity {
            sectors: SECTORS as u64,
            sector_size: SECTOR_BYTES,
        })
    }

    fn read(&mut self, id: u32, sector: u64, count: u16) -> Result<Data<'_>, Failed> {
        let range = self
            .range(sector, usize::from(count))
            .map_err(|error| Failed { id, error })?;
        Ok(Data {
            id,
            bytes: &self.bytes[range],
        })
    }

    fn write(&mut self, id: u32, sector: u64, bytes: &[u8]) -> Result<Done, Failed> {
        let fail = |error| Failed { id, error };
        if !bytes.len().is_multiple_of(512) {
            return Err(fail(BlockError::BadLength));
        }
        if self.read_only {
            return Err(fail(BlockError::ReadOnly));
        }
        let range = self.range(sector, bytes.len() / 512).map_err(fail)?;
        self.bytes[range].copy_from_slice(bytes);
        Ok(Done { id })
    }

    fn flush(&mut self, id: u32) -> Result<Done, Failed> {
        self.flushes += 1;
        Ok(Done { id })
    }

    /// A disk in memory has no device to lend a buffer to.
    fn read_lent(&mut self, id: u32, _sector: u64, _count: u16) -> Result<Done, Failed> {
        Err(Failed {
            id,
            error: BlockError::NoLoan,
        })
    }

    fn write_lent(&mut self, id: u32, _sector: u64, _count: u16) -> Result<Done, Failed> {
        Err(Failed {
            id,
            error: BlockError::NoLoan,
        })
    }
}

fn exchange(disk: &mut Memory, request: &[u8], reply: &mut [u8]) -> usize {
    serve(disk, request, reply).expect("served")
}

#[test]
fn a_write_and_a_read_travel_typed_with_their_ids() {
    let mut disk = Memory::new();
    let data = [0xa5u8; 1024];
    let mut request = [0; 4096];
    let mut reply = [0; 4096];
    let length = write::request(&mut request, 41, 3, &data).unwrap();
    assert_eq!(&request[..6], b"write\0");
    let answered = exchange(&mut disk, &request[..length], &mut reply);
    assert_eq!(write::reply(&reply[..answered]), Ok(Ok(Done { id: 41 })));

    let length = read::request(&mut request, 42, 3, 2).unwrap();
    let answered = exchange(&mut disk, &request[..length], &mut reply);
    assert_eq!(
        read::reply(&reply[..answered]),
        Ok(Ok(Data {
            id: 42,
            bytes: &data[..]
        }))
    );

    let length = flush::request(&mut request, 43).unwrap();
    let answered = exchange(&mut disk, &request[..length], &mut reply);
    assert_eq!(flush::reply(&reply[..answered]), Ok(Ok(Done { id: 43 })));
    assert_eq!(disk.flushes, 1);

    let length = capacity::request(&mut request).unwrap();
    assert_eq!(&request[..length], b"capacity");
    let answered = exchange(&mut disk, &request[..length], &mut reply);
    assert_eq!(
        capacity::reply(&reply[..answered]),
        Ok(Ok(Capacity {
            sectors: 16,
            sector_size: 512
        }))
    );
}

#[test]
fn errors_carry_the_request_id() {
    let mut disk = Memory::new();
    disk.read_only = true;
    let mut request = [0; 4096];
    let mut reply = [0; 64];
    let length = read::request(&mut request, 7, 15, 2).unwrap();
    let answered = exchange(&mut disk, &request[..length], &mut reply);
    assert_eq!(
        read::reply(&reply[..answered]),
        Ok(Err(Failed {
            id: 7,
            error: BlockError::OutOfRange
        }))
    );
    let length = write::request(&mut request, 8, 0, &[0; 512]).unwrap();
    let answered = exchange(&mut disk, &request[..length], &mut reply);
    assert_eq!(
        write::reply(&reply[..answered]),
        Ok(Err(Failed {
            id: 8,
            error: BlockError::ReadOnly
        }))
    );
}

#[test]
fn the_largest_transfer_fits_one_message_and_one_sector_more_does_not() {
    let limit = cella_abi::MAX_MESSAGE_BYTES as usize;
    let mut request = [0; 8192];
    let largest =
        write::request(&mut request, u32::MAX, u64::MAX, &[0; MAX_TRANSFER_BYTES]).unwrap();
    assert!(
        largest <= limit,
        "a write of {MAX_TRANSFER_BYTES} bytes is {largest} bytes"
    );
    let too_many = write::request(&mut request, 0, 0, &[0; MAX_TRANSFER_BYTES + 512]).unwrap();
    assert!(
        too_many > limit,
        "a write of one sector more is {too_many} bytes"
    );
    let mut reply = [0; 8192];
    let answered = crate::wire::encode(
        &Ok::<Data<'_>, Failed>(Data {
            id: u32::MAX,
            bytes: &[0; MAX_TRANSFER_BYTES],
        }),
        &mut reply,
    )
    .unwrap();
    assert!(answered <= limit);
    assert_eq!(MAX_TRANSFER_BYTES, 3584);
}

#[test]
fn reads_and_capacity_may_be_replayed_writes_and_flushes_not() {
    let mut request = [0; 64];
    let length = read::request(&mut request, 1, 0, 1).unwrap();
    assert_eq!(idempotent(&request[..length]), Some(true));
    assert_eq!(idempotent(b"capacity"), Some(true));
    let length = write::request(&mut request, 1, 0, &[0; 8]).unwrap();
    assert_eq!(idempotent(&request[..length]), Some(false));
    let length = flush::request(&mut request, 1).unwrap();
    assert_eq!(idempotent(&request[..length]), Some(false));
    assert_eq!(idempotent(b"format"), None);
}

#[test]
fn a_request_decodes_as_serve_reads_it() {
    let mut buffer = [0; 128];
    let length = read::request(&mut buffer, 9, 0x1_0000_0000, 3).unwrap();
    assert_eq!(
        Request::decode(&buffer[..length]),
        Ok(Request::Read {
            id: 9,
            sector: 0x1_0000_0000,
            count: 3
        })
    );
    let length = write::request(&mut buffer, 10, 4, b"sector").unwrap();
    let decoded = Request::decode(&buffer[..length]).unwrap();
    assert_eq!(
        decoded,
        Request::Write {
            id: 10,
            sector: 4,
            bytes: b"sector"
        }
    );
    assert_eq!(decoded.id(), Some(10));
    let length = flush::request(&mut buffer, 11).unwrap();
    assert_eq!(
        Request::decode(&buffer[..length]),
        Ok(Request::Flush { id: 11 })
    );
    assert_eq!(Request::decode(b"capacity"), Ok(Request::Capacity));
    assert_eq!(Request::Capacity.id(), None);

    assert_eq!(Request::decode(b"format"), Err(WireError::UnknownOperation));
    assert_eq!(
        Request::decode(b"capacity\0x"),
        Err(WireError::TrailingBytes)
    );
    assert_eq!(Request::decode(b"flush\0\x01\0"), Err(WireError::Truncated));
    let length = read::request(&mut buffer, 9, 0, 3).unwrap();
    assert_eq!(
        Request::decode(&buffer[..length - 1]),
        Err(WireError::Truncated)
    );
    // A write whose byte count says more than the message holds.
    let length = write::request(&mut buffer, 10, 4, b"sector").unwrap();
    buffer[length - 7] = 200;
    assert_eq!(
        Request::decode(&buffer[..length]),
        Err(WireError::Truncated)
    );
    let mut disk = Memory::new();
    assert_eq!(
        serve(&mut disk, &buffer[..length], &mut [0; 64]),
        Err(WireError::Truncated),
        "serve refuses it the same way"
    );
}

#[test]
fn a_person_reads_the_answers_as_text() {
    let mut disk = Memory::new();
    disk.bytes[..4].copy_from_slice(b"abcd");
    let call = |disk: &mut Memory, line: &str| -> Result<crate::Text, WireError> {
        let mut request = [0; 64];
        let length = request_from_text(line, &mut request)?;
        let mut reply = [0; 4096];
        let answered = serve(disk, &request[..length], &mut reply)?;
        let mut text = crate::Text::default();
        render_reply(&request[..length], &reply[..answered], &mut text)?;
        Ok(text)
    };
    assert_eq!(
        call(&mut disk, "capacity").unwrap().as_str(),
        "16 sectors of 512 bytes"
    );
    let mut expected = [0u8; 512];
    expected[..4].copy_from_slice(b"abcd");
    let text = call(&mut disk, "read 5 0 1").unwrap();
    let mut wanted = crate::Text::default();
    write!(
        wanted,
        "request 5: 512 bytes, FNV-1a {:#010x}",
        checksum(&expected)
    )
    .unwrap();
    assert_eq!(text.as_str(), wanted.as_str());
    assert_ne!(checksum(&expected), checksum(&[0; 512]));
    assert_eq!(
        call(&mut disk, "read 6 16 1").unwrap().as_str(),
        "error: request 6: the sectors lie past the end of the disk"
    );
    assert_eq!(
        call(&mut disk, "flush 3").unwrap().as_str(),
        "request 3: done"
    );
    assert_eq!(
        call(&mut disk, "write 1 0 abc").err(),
        Some(WireError::BadArgument),
        "a person cannot type a sector's bytes"
    );
    assert_eq!(
        call(&mut disk, "read 1 0").err(),
        Some(WireError::BadArgument)
    );
}

#[test]
fn the_checksum_is_fnv_1a() {
    assert_eq!(checksum(b""), 0x811c_9dc5);
    assert_eq!(checksum(b"a"), 0xe40c_292c);
    assert_eq!(checksum(b"foobar"), 0xbf9c_f968);
}

#[test]
fn lent_requests_decode_with_their_sectors_and_are_idempotent_only_for_reads() {
    let mut buffer = [0u8; 64];
    let length = read_lent::request(&mut buffer, 4, 1024, MAX_LENT_SECTORS).unwrap();
    assert_eq!(
        Request::decode(&buffer[..length]),
        Ok(Request::ReadLent {
            id: 4,
            sector: 1024,
            count: MAX_LENT_SECTORS
        })
    );
    assert_eq!(crate::idempotent("block", &buffer[..length]), Some(true));
    let length = write_lent::request(&mut buffer, 5, 8, 2).unwrap();
    assert_eq!(
        Request::decode(&buffer[..length]),
        Ok(Request::WriteLent {
            id: 5,
            sector: 8,
            count: 2
        })
    );
    assert_eq!(crate::idempotent("block", &buffer[..length]), Some(false));
    assert_eq!(Request::decode(&buffer[..length]).unwrap().id(), Some(5));
}
