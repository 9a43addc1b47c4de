//! A kernel for host tests: a clock the test sets, the Wasm host's simulated
//! platform, a message queue, and events run when the test lets them (so a
//! test can hold an instance "away" and see what waits for it).

use crate::ipc::IpcError;
use crate::module_system::services::{
    Done, EndpointMessage, Finished, Job, KernelServices, MachineMemory, PushRequest, Routed,
    execute,
};
use crate::system_manifest::GrantLine;
use alloc::borrow::Cow;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cella_interfaces::pci::Function;
use cella_wasm_host::abi::{ErrorCode, PciAddress};
use cella_wasm_host::{Grant, Outbox, Preparer, SimulatedPlatform};
use core::cell::RefCell;

/// What every sandbox sends lands in the shared queue.
#[derive(Clone, Default)]
pub struct MockOutbox(pub Rc<RefCell<VecDeque<Routed>>>);

impl Outbox for MockOutbox {
    fn send(&mut self, module: &str, endpoint: u64, message: &[u8]) -> Result<(), ErrorCode> {
        self.0.borrow_mut().push_back(Routed::Send {
            from: String::from(module),
            endpoint,
            bytes: message.to_vec(),
        });
        Ok(())
    }

    fn reply(&mut self, module: &str, request: u32, message: &[u8]) -> Result<(), ErrorCode> {
        self.0.borrow_mut().push_back(Routed::Reply {
            from: String::from(module),
            request,
            bytes: message.to_vec(),
        });
        Ok(())
    }

    fn call(
        &mut self,
        module: &str,
        generation: u32,
        endpoint: u64,
        call: u32,
        message: &[u8],
        loan: Option<cella_wasm_host::Loan>,
    ) -> Result<(), ErrorCode> {
        self.0.borrow_mut().push_back(Routed::Call {
            from: String::from(module),
            generation,
            endpoint,
            call,
            bytes: message.to_vec(),
            loan,
        });
        Ok(())
    }
}

type MockJob = Job<SimulatedPlatform, MockOutbox>;
type MockDone = Done<SimulatedPlatform, MockOutbox>;
type Preparation = (
    u64,
    Preparer<SimulatedPlatform, MockOutbox>,
    String,
    Vec<u8>,
    Grant,
);

/// The mock kernel; every field is the test's to read and set.
#[derive(Default)]
pub struct MockKernel {
    pub clock: u64,
    pub platform: SimulatedPlatform,
    pub outbox: MockOutbox,
    /// Events lent and not yet run, in order, with their module's name.
    pub lent: VecDeque<(String, MockJob)>,
    /// Events run and not yet taken back.
    pub completed: VecDeque<MockDone>,
    /// While set, lent events wait (the instance stays away).
    pub hold_events: bool,
    /// Names of modules in the order their events ran.
    pub ran: Vec<String>,
    /// Swap preparations asked for and not yet run.
    pub preparations: Vec<Preparation>,
    /// While set, preparations wait.
    pub hold_preparations: bool,
    pub finished: Vec<(u64, Finished<MockKernel>)>,
    pub pending_irqs: u64,
    /// MSI-X lines handed out, and their functions.
    pub msix_lines: Vec<(u8, PciAddress)>,
    pub revoked: Vec<u8>,
    /// Lines delivered to several holders, with how many.
    pub awaited_acknowledgements: Vec<(u8, u8)>,
    /// Lines acknowledged for a holder that went away.
    pub acknowledged_for_the_gone: Vec<u8>,
    pub console_endpoint: Option<u64>,
    /// Console output the kernel wrote itself: the bytes of each `uart`
    /// `write` message.
    pub console_written: Vec<Vec<u8>>,
    /// Console output the kernel refused to write (not a `uart` `write`):
    /// the sender, if known.
    pub console_refused: Vec<Option<String>>,
    pub printed: Vec<String>,
    /// Messages processes queued, by the id the module system opened.
    pub process_queues: BTreeMap<u64, VecDeque<EndpointMessage>>,
    pub opened: Vec<String>,
    pub process_flag: bool,
    /// Answers to processes' calls, by token.
    pub process_answers: Vec<(u64, Result<Vec<u8>, IpcError>)>,
    pub pushes: VecDeque<PushRequest>,
    pub push_answers: Vec<Result<String, String>>,
    pub command_answers: Vec<Result<String, String>>,
    /// Heap bytes each account may use; none are charged in tests.
    pub limits: BTreeMap<u32, usize>,
    /// The PCI functions "found at boot".
    pub pci_functions: Arc<[Function]>,
    /// Device faults the next step takes.
    pub device_faults: Vec<(PciAddress, String)>,
    /// Endpoints "native processes" serve.
    pub process_served: Vec<String>,
    /// Calls modules made to processes and nobody answered yet: token ->
    /// (endpoint, bytes).
    pub process_calls: BTreeMap<u64, (String, Vec<u8>)>,
    /// Answers to those calls the next step takes.
    pub process_call_answers: Vec<(u64, Result<Vec<u8>, IpcError>)>,
    /// Tokens the module system withdrew.
    pub withdrawn_process_calls: Vec<u64>,
    /// Process-side endpoints the module system closed.
    pub closed_process_endpoints: Vec<u64>,
    /// The last token handed out.
    pub last_token: u64,
    /// Calls modules opened on endpoints the module system opened, not
    /// answered or withdrawn yet.
    pub module_calls: alloc::collections::BTreeSet<u64>,
    /// Messages modules sent to endpoints "native processes" serve.
    pub sent_to_processes: Vec<(String, Vec<u8>)>,
}

/// Where the ids of the endpoints "native processes" serve begin (those
/// the module system opens count from 0).
pub const PROCESS_ENDPOINTS: u64 = 1 << 32;

impl MockKernel {
    /// Runs every event lent so far (unless held), as a worker would.
    pub fn run_lent(&mut self) {
        if self.hold_events {
            return;
        }
        while let Some((name, job)) = self.lent.pop_front() {
            self.platform.set_now(self.clock);
            self.ran.push(name);
            let done = execute(job, |_, work| work(), |_| None);
            self.completed.push_back(done);
        }
    }

    /// Runs every preparation asked for so far (unless held).
    pub fn run_preparations(&mut self) {
        if self.hold_preparations {
            return;
        }
        for (operation, preparer, name, bytes, grant) in self.preparations.drain(..) {
            let prepared = preparer
                .load(&name, &bytes, &grant)
                .map_err(|error| alloc::format!("refused at load: {error}"))
                .and_then(|module| {
                    preparer
                        .prepare(&module, self.platform.clone(), self.outbox.clone())
                        .map(alloc::boxed::Box::new)
                        .map_err(|fault| {
                            alloc::format!(
                                "failed at the instantiation of the new version: {fault}"
                            )
                        })
                });
            self.finished
                .push((operation, Finished::Prepared(prepared)));
        }
    }

    /// Queues a process's message (`token` 0: a send) on opened endpoint
    /// `name` (the last opened under that name); a call to one the module
    /// system closed fails with `Closed`, as kernel IPC fails it.
    pub fn process_sends(&mut self, name: &str, token: u64, bytes: &[u8]) {
        let id = self
            .opened
            .iter()
            .rposition(|opened| opened == name)
            .expect("endpoint opened for processes") as u64;
        if self.closed_process_endpoints.contains(&id) {
            if token != 0 {
                self.process_answers.push((token, Err(IpcError::Closed)));
            }
            return;
        }
        self.process_queues
            .entry(id)
            .or_default()
            .push_back(EndpointMessage {
                token,
                bytes: bytes.to_vec(),
            });
        self.process_flag = true;
    }
}

impl MockKernel {
    /// Queues a message (`token` 0: a send) on endpoint `id`, which the
    /// module system opened, with kernel IPC's limits.
    fn queue_on(&mut self, id: u64, token: u64, bytes: &[u8]) -> Result<(), IpcError> {
        if id >= self.opened.len() as u64 || self.closed_process_endpoints.contains(&id) {
            return Err(IpcError::Closed);
        }
        let queue = self.process_queues.entry(id).or_default();
        if queue.len() >= crate::ipc::QUEUE_CAPACITY {
            return Err(IpcError::Full);
        }
        queue.push_back(EndpointMessage {
            token,
            bytes: bytes.to_vec(),
        });
        self.process_flag = true;
        Ok(())
    }

    /// Gives the answer to call `token` to whoever waits: a module's call's
    /// answer to the module system, a process's to the "process". An
    /// answer to a withdrawn call is dropped, as kernel IPC drops it.
    fn answer(&mut self, token: u64, answer: Result<Vec<u8>, IpcError>) {
        if self.module_calls.remove(&token) {
            self.process_call_answers.push((token, answer));
        } else if !self.withdrawn_process_calls.contains(&token) {
            self.process_answers.push((token, answer));
        }
    }

    /// The "process" answers call `token` (a reply, or the error it failed
    /// the call with); false if no such call is open.
    pub fn process_answers(&mut self, token: u64, answer: Result<&[u8], IpcError>) -> bool {
        if self.process_calls.remove(&token).is_none() {
            return false;
        }
        self.process_call_answers
            .push((token, answer.map(<[u8]>::to_vec)));
        true
    }

    /// The process serving `name` ends: its endpoint closes and every call
    /// open on it fails with `Closed`.
    pub fn process_ends(&mut self, name: &str) {
        self.process_served.retain(|served| served != name);
        let closed: Vec<u64> = self
            .process_calls
            .iter()
            .filter(|(_, (endpoint, _))| endpoint == name)
            .map(|(token, _)| *token)
            .collect();
        for token in closed {
            self.process_answers(token, Err(IpcError::Closed));
        }
    }
}

impl KernelServices for MockKernel {
    type Platform = SimulatedPlatform;
    type Outbox = MockOutbox;

    fn platform(&self) -> SimulatedPlatform {
        self.platform.clone()
    }

    fn outbox(&self) -> MockOutbox {
        self.outbox.clone()
    }

    fn now(&self) -> u64 {
        self.clock
    }

    fn take_pending_irqs(&mut self) -> u64 {
        core::mem::take(&mut self.pending_irqs)
    }

    fn msix_line_function(&self, line: u8) -> Option<PciAddress> {
        self.msix_lines
            .iter()
            .find(|(held, _)| *held == line)
            .map(|(_, function)| *function)
    }

    fn revoke_irq(&mut self, line: u8) {
        self.revoked.push(line);
    }

    fn expect_irq_acknowledgements(&mut self, line: u8, holders: u8) {
        self.awaited_acknowledgements.push((line, holders));
    }

    fn acknowledge_irq(&mut self, line: u8) {
        self.acknowledged_for_the_gone.push(line);
    }

    fn console_output_endpoint(&self) -> Option<u64> {
        self.console_endpoint
    }

    fn route_console_output(&mut self, endpoint: u64) {
        self.console_endpoint = Some(endpoint);
    }

    fn take_console_back(&mut self, unwritten: Vec<Vec<u8>>) {
        self.console_endpoint = None;
        for message in unwritten {
            self.write_uart_message(None, &message);
        }
    }

    fn write_console(&mut self, from: &str, message: &[u8]) {
        self.write_uart_message(Some(from), message);
    }

    fn print_line(&mut self, line: &str) {
        self.printed.push(String::from(line));
    }

    fn console_lines_held_back(&self, _name: &str) -> (u64, u64) {
        (0, 0)
    }

    fn set_memory_limit(&mut self, account: u32, bytes: usize) {
        self.limits.insert(account, bytes);
    }

    fn admit_load(&self, _account: u32, _wasm_bytes: usize) -> Result<(), String> {
        Ok(())
    }

    fn over_memory_limit(&self, _account: u32) -> Option<String> {
        None
    }

    fn charge<T>(&self, _account: u32, work: impl FnOnce() -> T) -> T {
        work()
    }

    fn memory_of(&self, account: u32) -> (u64, u64) {
        (0, self.limits.get(&account).copied().unwrap_or(0) as u64)
    }

    fn machine_memory(&self) -> MachineMemory {
        MachineMemory::default()
    }

    fn refused_grant(&self, _grants: &[GrantLine]) -> Option<String> {
        None
    }

    fn pci_functions(&self) -> Arc<[Function]> {
        self.pci_functions.clone()
    }

    fn take_device_faults(&mut self) -> Vec<(PciAddress, String)> {
        core::mem::take(&mut self.device_faults)
    }

    fn run_here(&mut self, name: &str, job: MockJob) -> Result<MockDone, MockJob> {
        if self.hold_events {
            return Err(job);
        }
        self.platform.set_now(self.clock);
        self.ran.push(String::from(name));
        Ok(execute(job, |_, work| work(), |_| None))
    }

    fn lend(&mut self, name: &str, job: MockJob) {
        self.lent.push_back((String::from(name), job));
    }

    fn take_completed(&mut self) -> VecDeque<MockDone> {
        self.run_lent();
        core::mem::take(&mut self.completed)
    }

    fn wait_for_work(&mut self) {
        self.clock += 1_000_000;
    }

    fn prepare_elsewhere(
        &mut self,
        operation: u64,
        preparer: Preparer<SimulatedPlatform, MockOutbox>,
        name: String,
        bytes: Cow<'static, [u8]>,
        grant: Grant,
        _account: u32,
    ) {
        self.preparations
            .push((operation, preparer, name, bytes.into_owned(), grant));
    }

    fn call_process_elsewhere(&mut self, operation: u64, endpoint: String, _bytes: Vec<u8>) {
        self.finished.push((
            operation,
            Finished::Called(Err(alloc::format!("no process serves `{endpoint}` here"))),
        ));
    }

    fn take_finished(&mut self) -> Vec<(u64, Finished<Self>)> {
        self.run_preparations();
        core::mem::take(&mut self.finished)
    }

    fn take_routed(&mut self) -> VecDeque<Routed> {
        core::mem::take(&mut *self.outbox.0.borrow_mut())
    }

    fn open_endpoint(&mut self, name: &str) -> Result<u64, String> {
        self.opened.push(String::from(name));
        Ok(self.opened.len() as u64 - 1)
    }

    fn messages_waiting(&mut self) -> bool {
        core::mem::take(&mut self.process_flag)
    }

    fn take_message(&mut self, endpoint: u64) -> Option<EndpointMessage> {
        self.process_queues.get_mut(&endpoint)?.pop_front()
    }

    fn answer_token(&mut self, token: u64, answer: Result<&[u8], IpcError>) {
        self.answer(token, answer.map(<[u8]>::to_vec));
    }

    fn endpoint_named(&self, name: &str) -> Option<u64> {
        let opened = self
            .opened
            .iter()
            .rposition(|opened| opened == name)
            .map(|id| id as u64)
            .filter(|id| !self.closed_process_endpoints.contains(id));
        opened.or_else(|| {
            self.process_served
                .iter()
                .position(|served| served == name)
                .map(|index| PROCESS_ENDPOINTS + index as u64)
        })
    }

    fn send_on(&mut self, endpoint: u64, bytes: &[u8]) -> Result<(), IpcError> {
        if bytes.len() > crate::ipc::MAX_MESSAGE_BYTES {
            return Err(IpcError::TooLong);
        }
        if let Some(index) = endpoint.checked_sub(PROCESS_ENDPOINTS) {
            let name = self
                .process_served
                .get(index as usize)
                .ok_or(IpcError::Closed)?;
            self.sent_to_processes.push((name.clone(), bytes.to_vec()));
            return Ok(());
        }
        self.queue_on(endpoint, 0, bytes)
    }

    fn call_on(&mut self, endpoint: u64, bytes: &[u8]) -> Result<u64, IpcError> {
        if bytes.len() > crate::ipc::MAX_MESSAGE_BYTES {
            return Err(IpcError::TooLong);
        }
        // Above the tokens tests give their "processes'" calls.
        let token = (self.last_token + 1).max(1 << 48);
        if let Some(index) = endpoint.checked_sub(PROCESS_ENDPOINTS) {
            let name = self
                .process_served
                .get(index as usize)
                .ok_or(IpcError::Closed)?;
            self.process_calls
                .insert(token, (name.clone(), bytes.to_vec()));
        } else {
            self.queue_on(endpoint, token, bytes)?;
            self.module_calls.insert(token);
        }
        self.last_token = token;
        Ok(token)
    }

    fn take_call_answers(&mut self) -> Vec<(u64, Result<Vec<u8>, IpcError>)> {
        core::mem::take(&mut self.process_call_answers)
    }

    fn withdraw_call(&mut self, token: u64) {
        self.process_calls.remove(&token);
        self.process_call_answers
            .retain(|(answered, _)| *answered != token);
        if self.module_calls.remove(&token) {
            for queue in self.process_queues.values_mut() {
                queue.retain(|message| message.token != token);
            }
        }
        self.withdrawn_process_calls.push(token);
    }

    fn close_endpoint(&mut self, opened: u64) {
        self.closed_process_endpoints.push(opened);
        for message in self.process_queues.remove(&opened).unwrap_or_default() {
            if message.token != 0 {
                self.answer(message.token, Err(IpcError::Closed));
            }
        }
    }

    fn process_rows(&self) -> String {
        String::new()
    }

    fn poll_push(&mut self) -> Option<PushRequest> {
        self.pushes.pop_front()
    }

    fn answer_push(&mut self, outcome: &Result<String, String>) {
        self.push_answers.push(outcome.clone());
    }

    fn answer_command(&mut self, outcome: &Result<String, String>) {
        self.command_answers.push(outcome.clone());
    }

    fn log_tail(&self, _lines: usize) -> String {
        String::new()
    }
}

impl MockKernel {
    /// What the kernel's console does with a `uart` message it writes itself.
    fn write_uart_message(&mut self, from: Option<&str>, message: &[u8]) {
        match cella_interfaces::uart::written(message) {
            Ok(bytes) => self.console_written.push(bytes.to_vec()),
            Err(_) => self.console_refused.push(from.map(String::from)),
        }
    }
}
