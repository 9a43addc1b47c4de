//! The Wasm module: the `fs` endpoint served by [`FileServer`] over the
//! `block` endpoint, the handle table carried over a hot swap, and what
//! the server notices logged.

use crate::block_disk::BlockDisk;
use crate::cache::DEFAULT_CAPACITY;
use crate::journal::Replayed;
use crate::server::{FileServer, Notice};
use cella_sdk::interfaces::fs::{self, FsError};
use cella_sdk::{ErrorCode, Message, Module, Result};

#[cfg(not(feature = "version-two"))]
cella_sdk::module! {
    name: "fs",
    version: "1.0.0",
    state: 1,
    module: FileSystem,
    capabilities: {
        block: endpoint("block"),
    },
}

// The swap fixture of the test kernel (tests/kernel/system.toml): the same server as 2.0.0,
// same state format 1.
#[cfg(feature = "version-two")]
cella_sdk::module! {
    name: "fs",
    version: "2.0.0",
    state: 1,
    module: FileSystem,
    capabilities: {
        block: endpoint("block"),
    },
}

// The FAT library allocates; the heap grows the module's memory.
#[global_allocator]
static HEAP: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// The module's state between events.
pub struct FileSystem {
    server: FileServer<BlockDisk>,
    /// The last mount failure logged, so a blank disk is reported once.
    reported: Option<FsError>,
}

impl FileSystem {
    fn log_notices(&mut self) {
        for notice in self.server.take_notices() {
            match notice {
                Notice::Mounted(replayed) => {
                    self.reported = None;
                    match replayed {
                        Replayed::Nothing => cella_sdk::info!("volume mounted"),
                        Replayed::Applied(sectors) => cella_sdk::info!(
                            "volume mounted; the journal's last transaction ({sectors} sectors) was finished"
                        ),
                        Replayed::Discarded => cella_sdk::info!(
                            "volume mounted; an unfinished transaction in the journal was dropped"
                        ),
                    }
                }
                Notice::NoJournal => cella_sdk::warn!(
                    "the volume's reserved sectors leave no room for the journal: changes are written in place"
                ),
                Notice::MountFailed(error) => {
                    if self.reported != Some(error) {
                        cella_sdk::warn!(
                            "cannot mount the disk: {error}; trying again at the next request"
                        );
                        self.reported = Some(error);
                    }
                }
                Notice::DiskFailed(failure) => cella_sdk::warn!(
                    "the disk failed a transaction ({failure}); the volume is mounted again at the next request"
                ),
            }
        }
    }
}

impl Module for FileSystem {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<FileSystem> {
        cella_sdk::info!("serving fs; the volume is mounted at the first request");
        Ok(FileSystem {
            server: FileServer::new(
                BlockDisk::new(capabilities.block),
                cella_sdk::time::epoch(),
                DEFAULT_CAPACITY,
            ),
            reported: None,
        })
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        let answered = message.answer(|request, reply| fs::serve(&mut self.server, request, reply));
        self.log_notices();
        answered
    }

    fn save_state(&self, out: &mut [u8]) -> Result<usize> {
        self.server.save(out).map_err(|_| ErrorCode::TooLong)
    }

    fn restore_state(
        capabilities: Capabilities,
        saved: &[u8],
        format_version: u32,
    ) -> Result<FileSystem> {
        if format_version != crate::handles::STATE_FORMAT {
            cella_sdk::error!(
                "state format {format_version} is not {}: refused",
                crate::handles::STATE_FORMAT
            );
            return Err(ErrorCode::BadArgument);
        }
        let server =
            FileServer::restore(BlockDisk::new(capabilities.block), saved, DEFAULT_CAPACITY)
                .map_err(|_| ErrorCode::BadArgument)?;
        cella_sdk::info!("took over {} open handles", server.open_handles());
        Ok(FileSystem {
            server,
            reported: None,
        })
    }
}
