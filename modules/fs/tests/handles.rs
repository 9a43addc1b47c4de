//! Handles: generations per opening, every handle of an earlier instance
//! stale after a restart, and the table carried over a hot swap (the new
//! instance opens the files again by path when their handles are used).

mod common;

use cella_fs::FileServer;
use cella_sdk::interfaces::fs::{self, FsError, Handle, Mode, Server};
use common::*;

#[test]
fn a_closed_handle_is_stale_and_its_slot_gets_a_new_generation() {
    let disk = ImageDisk::open(&fresh_image("generations"));
    let mut server = server(&disk);
    let first = open(&mut server, "/a", Mode::Create);
    server.close(first).unwrap();
    assert_eq!(server.read(first, 0, 1).map(|_| ()), Err(FsError::Stale));
    assert_eq!(server.close(first).map(|_| ()), Err(FsError::Stale));
    let mut seen = vec![first.generation];
    for _ in 0..100 {
        let handle = open(&mut server, "/a", Mode::Read);
        assert_eq!(handle.slot, first.slot);
        assert!(!seen.contains(&handle.generation));
        seen.push(handle.generation);
        server.close(handle).unwrap();
    }
    let forged = Handle {
        slot: first.slot,
        generation: first.generation + 1000,
    };
    assert_eq!(server.read(forged, 0, 1).map(|_| ()), Err(FsError::Stale));
}

#[test]
fn after_a_restart_every_earlier_handle_is_stale() {
    let disk = ImageDisk::open(&fresh_image("restart"));
    let mut before = FileServer::new(disk.clone(), 0x1234, CACHE_SECTORS);
    let handle = open(&mut before, "/kept.txt", Mode::Create);
    write_all(&mut before, handle, 0, b"survives the restart");
    drop(before);
    // The next instance: another epoch, the same disk.
    let mut after = FileServer::new(disk.clone(), 0x5678, CACHE_SECTORS);
    assert_eq!(after.read(handle, 0, 10).map(|_| ()), Err(FsError::Stale));
    assert_eq!(
        after.write(handle, 0, b"x").map(|_| ()),
        Err(FsError::Stale)
    );
    let fresh = open(&mut after, "/kept.txt", Mode::Read);
    assert_eq!(fresh.slot, handle.slot);
    assert_ne!(fresh.generation, handle.generation);
    assert_eq!(
        read_all(&mut after, fresh).unwrap(),
        b"survives the restart"
    );
}

#[test]
fn a_hot_swap_carries_the_handles_over() {
    let disk = ImageDisk::open(&fresh_image("swap"));
    let mut old = server(&disk);
    let writer = open(&mut old, "/dir-less file.txt", Mode::Create);
    write_all(&mut old, writer, 0, b"written by the old version");
    let reader = open(&mut old, "/DIR-LESS FILE.TXT", Mode::Read);
    let closed = open(&mut old, "/other", Mode::Create);
    old.close(closed).unwrap();
    let mut state = vec![0u8; cella_sdk::STATE_BYTES];
    let length = old.save(&mut state).unwrap();
    drop(old);
    let mut new = FileServer::restore(disk.clone(), &state[..length], CACHE_SECTORS).unwrap();
    assert_eq!(
        read_all(&mut new, reader).unwrap(),
        b"written by the old version"
    );
    write_all(&mut new, writer, 26, b", and the new one");
    assert_eq!(
        read_all(&mut new, reader).unwrap(),
        b"written by the old version, and the new one"
    );
    assert_eq!(
        new.write(reader, 0, b"x").map(|_| ()),
        Err(FsError::ReadOnly),
        "the mode came along"
    );
    assert_eq!(new.read(closed, 0, 1).map(|_| ()), Err(FsError::Stale));
    new.close(writer).unwrap();
    new.close(reader).unwrap();
    // Swapped back and forth 50 times with a handle open.
    let handle = open(&mut new, "/dir-less file.txt", Mode::ReadWrite);
    let mut server = new;
    for round in 0..50u8 {
        write_all(&mut server, handle, 0, &[round]);
        let length = server.save(&mut state).unwrap();
        server = FileServer::restore(disk.clone(), &state[..length], CACHE_SECTORS).unwrap();
        assert_eq!(server.read(handle, 0, 1).unwrap().bytes, [round]);
    }
}

#[test]
fn a_saved_table_that_does_not_read_is_refused() {
    let disk = ImageDisk::open(&fresh_image("bad-state"));
    let mut server = server(&disk);
    open(&mut server, "/a", Mode::Create);
    let mut state = vec![0u8; 4096];
    let length = server.save(&mut state).unwrap();
    for bad in [&state[..3], &state[..length - 1], &[0u8; 64][..]] {
        assert!(FileServer::restore(disk.clone(), bad, CACHE_SECTORS).is_err());
    }
    let mut longer = state[..length].to_vec();
    longer.push(0);
    assert!(FileServer::restore(disk.clone(), &longer, CACHE_SECTORS).is_err());
    let mut small = [0u8; 16];
    assert!(
        server.save(&mut small).is_err(),
        "a table that does not fit is refused"
    );
}

#[test]
fn requests_through_the_interface_encoding_are_answered() {
    let disk = ImageDisk::open(&fresh_image("wire"));
    let mut server = server(&disk);
    let mut request = [0u8; 4096];
    let mut reply = [0u8; 4096];
    let length = fs::open::request(&mut request, "/wire.txt", Mode::Create).unwrap();
    let answered = fs::serve(&mut server, &request[..length], &mut reply).unwrap();
    let opened = fs::open::reply(&reply[..answered]).unwrap().unwrap();
    let length = fs::write::request(&mut request, opened.handle, 0, &[7u8; 3584]).unwrap();
    let answered = fs::serve(&mut server, &request[..length], &mut reply).unwrap();
    assert_eq!(
        fs::write::reply(&reply[..answered]).unwrap().unwrap().size,
        3584
    );
    let length = fs::read::request(&mut request, opened.handle, 0, 3584).unwrap();
    let answered = fs::serve(&mut server, &request[..length], &mut reply).unwrap();
    assert!(answered <= cella_sdk::MAX_MESSAGE_BYTES as usize);
    assert_eq!(
        fs::read::reply(&reply[..answered]).unwrap().unwrap().bytes,
        [7u8; 3584]
    );
    let length = fs::list::request(&mut request, "/", 0).unwrap();
    let answered = fs::serve(&mut server, &request[..length], &mut reply).unwrap();
    let listing = fs::list::reply(&reply[..answered]).unwrap().unwrap();
    assert_eq!(listing.entries().next().unwrap().unwrap().name, "wire.txt");
}
