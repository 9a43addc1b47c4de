//! Serves `mortal`: receives one call and exits without answering it. Its
//! caller must get an error (the endpoint closed), not wait for ever.
#![no_std]
#![no_main]

fn main() -> i32 {
    let Ok(handle) = cella_userland::register("mortal") else {
        return 1;
    };
    let mut buffer = [0u8; 16];
    match cella_userland::receive(handle, &mut buffer) {
        Ok((_, token)) => cella_userland::log!(
            "mortal: received a call (token set: {}); exiting without a reply",
            token != 0
        ),
        Err(error) => cella_userland::log!("mortal: receive failed: {error}"),
    }
    0
}

cella_userland::entry!(main);
