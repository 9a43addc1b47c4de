//! Module files on the file system: `swap NAME /PATH` and `start /PATH`
//! read a module from the `fs` server, and a push with `--persist` writes
//! the pushed module there.
//!
//! The supervisor reads and writes like any client, through the typed `fs`
//! interface (`cella_interfaces::fs`): open, then reads (or writes) of at
//! most [`fs::MAX_TRANSFER_BYTES`] at explicit offsets, then close, each a
//! kernel request to the module serving `fs` whose answer moves the
//! operation one step (`Stage::Transferring`), while the event loop goes on.
//! The bytes read are then checked and loaded as any module's are (the
//! swap or install that follows).

use super::event_loop::EventLoop;
use super::operations::{Progress, Stage};
use super::router::KernelRequest;
use super::services::KernelServices;
use crate::ipc::IpcError;
use crate::supervisor::reports::{CommandError, Report};
use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::fs::{self, FsError, Handle, Mode};

/// The largest module file read: a push's limit.
pub const MAX_MODULE_FILE_BYTES: u64 = cella_system::push_protocol::MAX_UPLOAD_BYTES as u64;
/// How long each request to the file server may take.
const REQUEST_TIMEOUT_NS: u64 = 5_000_000_000;

/// What a transfer is for, and so what follows it.
pub(super) enum Purpose {
    /// `swap [--force] MODULE /PATH`: the file's module replaces MODULE.
    Swap { module: String, force: bool },
    /// `start /PATH`: the file's module replaces the module of its name.
    Start,
    /// A module whose manifest entry names its file on the file system,
    /// started at boot or by `start MODULE`.
    Load { module: String },
    /// A push with `--persist`: the pushed module is written to the file,
    /// after its install gave `report`.
    Persist { report: Box<Report> },
}

/// Where a transfer is.
enum Step {
    Opening,
    Reading {
        handle: Handle,
        size: u64,
    },
    Writing {
        handle: Handle,
        offset: u64,
    },
    /// Closing after the write: the write is done when the close is.
    Closing,
}

/// A file being read or written for a command.
pub(super) struct Transfer {
    path: String,
    purpose: Purpose,
    step: Step,
    /// Read so far, or the bytes to write.
    bytes: Vec<u8>,
    request: Option<u32>,
    deadline: u64,
}

impl Transfer {
    fn writing(&self) -> bool {
        matches!(self.purpose, Purpose::Persist { .. })
    }
}

impl<K: KernelServices> EventLoop<K> {
    /// Starts every module whose manifest entry names its file on the file
    /// system and that starts at boot: each is read through the `fs`
    /// server, which runs by then, and started; what became of each is
    /// logged.
    pub(super) fn start_from_file_system(&mut self) {
        let kept: Vec<(String, String)> = self
            .table
            .slots
            .iter()
            .filter(|slot| {
                !slot.plan.on_demand && super::lifecycle::is_file_system_path(&slot.plan.file)
            })
            .map(|slot| (slot.plan.name.clone(), slot.plan.file.clone()))
            .collect();
        for (module, path) in kept {
            let task = super::operations::Task::Load { module, path };
            self.submit(super::operations::Requester::Log, task);
        }
    }

    /// Starts reading module file `path` for `purpose`.
    pub(super) fn read_module_file(
        &mut self,
        id: u64,
        path: String,
        purpose: Purpose,
    ) -> Progress<K> {
        let transfer = Transfer {
            path,
            purpose,
            step: Step::Opening,
            bytes: Vec::new(),
            request: None,
            deadline: 0,
        };
        self.open_file(id, transfer)
    }

    /// Starts writing `bytes` to `path` (made or emptied), then reports
    /// `report` (the install's) with what became of the file.
    pub(super) fn write_module_file(
        &mut self,
        id: u64,
        path: String,
        bytes: Vec<u8>,
        report: Report,
    ) -> Progress<K> {
        let transfer = Transfer {
            path,
            purpose: Purpose::Persist {
                report: Box::new(report),
            },
            step: Step::Opening,
            bytes,
            request: None,
            deadline: 0,
        };
        self.open_file(id, transfer)
    }

    fn open_file(&mut self, id: u64, mut transfer: Transfer) -> Progress<K> {
        let mode = if transfer.writing() {
            Mode::Truncate
        } else {
            Mode::Read
        };
        let path = transfer.path.clone();
        match self.ask_fs(id, &mut transfer, |buffer| {
            fs::open::request(buffer, &path, mode)
        }) {
            Ok(()) => Progress::Next(Stage::Transferring(Box::new(transfer))),
            Err(why) => self.transfer_failed(transfer, why),
        }
    }

    /// Encodes one request to the file server with `encode` and sends it
    /// for operation `id`.
    fn ask_fs(
        &mut self,
        id: u64,
        transfer: &mut Transfer,
        encode: impl FnOnce(&mut [u8]) -> Result<usize, cella_interfaces::wire::WireError>,
    ) -> Result<(), String> {
        let mut buffer = alloc::vec![0u8; cella_abi::MAX_MESSAGE_BYTES as usize];
        let length = encode(&mut buffer).map_err(request_error)?;
        self.send_fs(id, transfer, &buffer[..length])
    }

    /// Sends `request` to the file server for operation `id`; the
    /// transfer waits for its answer.
    fn send_fs(&mut self, id: u64, transfer: &mut Transfer, request: &[u8]) -> Result<(), String> {
        let request = self
            .router
            .request(
                &mut self.table,
                fs::ENDPOINT,
                request,
                KernelRequest::Command { operation: id },
            )
            .ok_or_else(|| String::from("no file server runs (nothing serves `fs`)"))?;
        transfer.request = Some(request);
        transfer.deadline = self.kernel.now().saturating_add(REQUEST_TIMEOUT_NS);
        Ok(())
    }

    /// The file server answered a transfer's request (or did not in time):
    /// its next step.
    pub(super) fn advance_transfer(
        &mut self,
        id: u64,
        mut transfer: Box<Transfer>,
        answer: Option<Result<Vec<u8>, IpcError>>,
    ) -> (Progress<K>, bool) {
        let reply = match answer {
            Some(Ok(reply)) => reply,
            Some(Err(error)) => {
                let why = format!("the file server did not answer: {error}");
                return (self.transfer_failed(*transfer, why), true);
            }
            None if self.kernel.now() >= transfer.deadline => {
                if let Some(request) = transfer.request.take() {
                    self.router.forget(request);
                }
                let why = String::from("the file server did not answer in 5 s");
                return (self.transfer_failed(*transfer, why), true);
            }
            None => return (Progress::Next(Stage::Transferring(transfer)), false),
        };
        let progress = match self.next_step(id, &mut transfer, &reply) {
            Ok(None) => Progress::Next(Stage::Transferring(transfer)),
            Ok(Some(())) => self.transferred(id, *transfer),
            Err(why) => self.transfer_failed(*transfer, why),
        };
        (progress, true)
    }

    /// Takes `reply` to the step the transfer is at and sends the next
    /// request; `Some` when the transfer is complete.
    fn next_step(
        &mut self,
        id: u64,
        transfer: &mut Transfer,
        reply: &[u8],
    ) -> Result<Option<()>, String> {
        let wire = |error: cella_interfaces::wire::WireError| {
            format!("the file server's answer made no sense: {error}")
        };
        match transfer.step {
            Step::Opening => {
                let opened = fs::open::reply(reply).map_err(wire)?.map_err(fs_error)?;
                if transfer.writing() {
                    transfer.step = Step::Writing {
                        handle: opened.handle,
                        offset: 0,
                    };
                    return self.write_next(id, transfer).map(|()| None);
                }
                if opened.size == 0 {
                    self.close_quietly(opened.handle);
                    return Err(String::from("the file is empty"));
                }
                if opened.size > MAX_MODULE_FILE_BYTES {
                    self.close_quietly(opened.handle);
                    return Err(format!(
                        "the file has {} bytes, more than a module may have ({MAX_MODULE_FILE_BYTES})",
                        opened.size
                    ));
                }
                // The file's bytes are the kernel's to hold: ask, never assume.
                if transfer
                    .bytes
                    .try_reserve_exact(opened.size as usize)
                    .is_err()
                {
                    self.close_quietly(opened.handle);
                    return Err(format!("no kernel memory for {} bytes", opened.size));
                }
                transfer.step = Step::Reading {
                    handle: opened.handle,
                    size: opened.size,
                };
                self.read_next(id, transfer).map(|()| None)
            }
            Step::Reading { handle, size } => {
                let data = fs::read::reply(reply).map_err(wire)?.map_err(fs_error)?;
                let room = (size - transfer.bytes.len() as u64) as usize;
                transfer
                    .bytes
                    .extend_from_slice(&data.bytes[..data.bytes.len().min(room)]);
                if data.bytes.is_empty() || transfer.bytes.len() as u64 >= size {
                    self.close_quietly(handle);
                    if (transfer.bytes.len() as u64) < size {
                        return Err(format!(
                            "the file ended after {} of its {size} bytes",
                            transfer.bytes.len()
                        ));
                    }
                    return Ok(Some(()));
                }
                self.read_next(id, transfer).map(|()| None)
            }
            Step::Writing { handle, offset } => {
                let written = fs::write::reply(reply).map_err(wire)?;
                let written = match written {
                    Ok(written) => written,
                    Err(error) => {
                        self.close_quietly(handle);
                        return Err(fs_error(error));
                    }
                };
                let offset = offset + u64::from(written.length);
                if offset >= transfer.bytes.len() as u64 || written.length == 0 {
                    transfer.step = Step::Closing;
                    self.ask_fs(id, transfer, |buffer| fs::close::request(buffer, handle))?;
                    return Ok(None);
                }
                transfer.step = Step::Writing { handle, offset };
                self.write_next(id, transfer).map(|()| None)
            }
            Step::Closing => {
                fs::close::reply(reply).map_err(wire)?.map_err(fs_error)?;
                Ok(Some(()))
            }
        }
    }

    fn read_next(&mut self, id: u64, transfer: &mut Transfer) -> Result<(), String> {
        let Step::Reading { handle, size } = transfer.step else {
            return Ok(());
        };
        let offset = transfer.bytes.len() as u64;
        let length = (size - offset).min(fs::MAX_TRANSFER_BYTES as u64) as u32;
        self.ask_fs(id, transfer, |buffer| {
            fs::read::request(buffer, handle, offset, length)
        })
    }

    fn write_next(&mut self, id: u64, transfer: &mut Transfer) -> Result<(), String> {
        let Step::Writing { handle, offset } = transfer.step else {
            return Ok(());
        };
        let start = offset as usize;
        let end = (start + fs::MAX_TRANSFER_BYTES).min(transfer.bytes.len());
        let mut buffer = alloc::vec![0u8; cella_abi::MAX_MESSAGE_BYTES as usize];
        let length = fs::write::request(&mut buffer, handle, offset, &transfer.bytes[start..end])
            .map_err(request_error)?;
        self.send_fs(id, transfer, &buffer[..length])
    }

    /// Ends a handle without waiting for the answer.
    fn close_quietly(&mut self, handle: Handle) {
        let mut buffer = [0u8; 32];
        if let Ok(length) = fs::close::request(&mut buffer, handle) {
            let _ = self.router.request(
                &mut self.table,
                fs::ENDPOINT,
                &buffer[..length],
                KernelRequest::Discard,
            );
        }
    }

    /// A transfer is complete: the swap or start it was for begins, or the
    /// persisted install reports.
    fn transferred(&mut self, id: u64, transfer: Transfer) -> Progress<K> {
        let Transfer {
            path,
            purpose,
            bytes,
            ..
        } = transfer;
        match purpose {
            Purpose::Swap { module, force } => {
                log::info!("swap {module}: {} bytes read from {path}", bytes.len());
                self.start_swap(id, &module, Cow::Owned(bytes), false, !force)
            }
            Purpose::Load { module } => {
                log::info!("module {module}: {} bytes read from {path}", bytes.len());
                self.install(id, &module, bytes)
            }
            Purpose::Start => match cella_wasm_host::manifest_name(&bytes) {
                Ok(name) => {
                    log::info!("start {path}: {} bytes, module {name}", bytes.len());
                    self.install(id, &name, bytes)
                }
                Err(problem) => Progress::finished(Err(CommandError::Refused(format!(
                    "{path}: not a module Cella loads ({problem}); nothing changed"
                )))),
            },
            Purpose::Persist { report } => {
                log::info!("push: the module is kept in {path} ({} bytes)", bytes.len());
                Progress::finished(Ok(Report::Persisted {
                    install: report,
                    path,
                }))
            }
        }
    }

    /// A transfer failed: the command's error says which file and why.
    fn transfer_failed(&mut self, transfer: Transfer, why: String) -> Progress<K> {
        match transfer.purpose {
            // The install itself succeeded; only keeping it failed.
            Purpose::Persist { report } => Progress::finished(Ok(Report::NotPersisted {
                install: report,
                path: transfer.path,
                why,
            })),
            Purpose::Load { module } => Progress::finished(Err(CommandError::Refused(format!(
                "module {module} not started: {}: {why}",
                transfer.path
            )))),
            _ => Progress::finished(Err(CommandError::Refused(format!(
                "{}: {why}; nothing changed",
                transfer.path
            )))),
        }
    }
}

/// A request that did not encode, in words.
fn request_error(error: cella_interfaces::wire::WireError) -> String {
    format!("the request: {error}")
}

/// An error of the file server, in its words.
fn fs_error(error: FsError) -> String {
    String::from(error.word())
}
