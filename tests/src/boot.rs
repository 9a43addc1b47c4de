//! One QEMU boot and its judgement: [`boot`] runs it, [`BootRun`]'s `expect_*` methods judge
//! it and, on anything unexpected, fail the test with the whole serial log.

use crate::disk::Disk;
use crate::environment::environment;
use crate::process::{Exit, run_with_deadline};
use cella::qemu::{EXIT_STATUS_FAILURE, EXIT_STATUS_SUCCESS, Network, QemuInvocation, Serial};
use cella::shell::render_command;
use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// What to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootRequest {
    /// Name used in reports and timings, e.g. the scenario name.
    pub label: String,
    /// Kernel command line.
    pub cmdline: String,
    /// Boot archive; the environment's default archive when `None`.
    pub initrd: Option<PathBuf>,
    /// Stop QEMU as soon as the serial output contains this (for boots that never exit).
    pub stop_marker: Option<String>,
    /// Boot the production kernel (`cella-kernel`, what `cargo cella run` boots) instead of
    /// the test kernel.
    pub production_kernel: bool,
    /// The disk image to boot with; a fresh copy of the environment's for this boot alone
    /// when `None`.
    pub disk: Option<PathBuf>,
    /// Give the machine QEMU's VT-d IOMMU (as every `cargo cella` boot has).
    pub iommu: bool,
    /// The virtio-net card on QEMU's restricted user network (every boot has one unless the
    /// test says otherwise), and the host port forwarded to the guest's port 80, if any.
    pub network: Option<Network>,
    /// The least time the boot is given, for a scenario that runs long (a benchmark); the
    /// environment's timeout when that is longer or this is `None`.
    pub at_least: Option<Duration>,
}

impl BootRequest {
    /// Boots scenario `name` (`test=NAME`) with the default archive.
    pub fn scenario(name: &str) -> Self {
        BootRequest {
            label: name.to_owned(),
            cmdline: format!("test={name}"),
            initrd: None,
            stop_marker: None,
            production_kernel: false,
            disk: None,
            iommu: true,
            network: Some(Network::default()),
            at_least: None,
        }
    }

    /// Gives the boot at least `time` before it is killed.
    pub fn at_least(mut self, time: Duration) -> Self {
        self.at_least = Some(time);
        self
    }

    /// Boots a machine without an IOMMU.
    pub fn without_iommu(mut self) -> Self {
        self.iommu = false;
        self
    }

    /// Boots a machine without a network card.
    pub fn without_network(mut self) -> Self {
        self.network = None;
        self
    }

    /// Forwards `port` of the host's loopback to the guest's TCP port 80 (pick one with
    /// `cella::qemu::free_host_port`).
    pub fn with_host_port(mut self, port: u16) -> Self {
        let network = self.network.unwrap_or_default();
        self.network = Some(Network {
            host_port: Some(port),
            ..network
        });
        self
    }

    /// Forwards the guest's TCP connections to 10.0.2.100:80 to `port` of the host's
    /// loopback, one relay for each (`cella::qemu::relay_command`).
    pub fn with_guest_forward(mut self, port: u16) -> Self {
        let network = self.network.unwrap_or_default();
        self.network = Some(Network {
            guest_forward: Some(port),
            ..network
        });
        self
    }

    /// Forwards UDP `port` of the host's loopback to the guest's UDP port 7 (the echo
    /// service).
    pub fn with_udp_host_port(mut self, port: u16) -> Self {
        let network = self.network.unwrap_or_default();
        self.network = Some(Network {
            udp_host_port: Some(port),
            ..network
        });
        self
    }

    /// Uses `archive` as the boot archive.
    pub fn with_initrd(mut self, archive: PathBuf) -> Self {
        self.initrd = Some(archive);
        self
    }

    /// Boots with `disk` (which the test reads afterwards) instead of a fresh copy.
    pub fn with_disk(mut self, disk: &Disk) -> Self {
        self.disk = Some(disk.path().to_owned());
        self
    }

    /// Stops QEMU once the serial output contains `marker`.
    pub fn until(mut self, marker: &str) -> Self {
        self.stop_marker = Some(marker.to_owned());
        self
    }
}

/// A finished boot.
#[derive(Debug, Clone)]
pub struct BootRun {
    /// What was booted.
    pub request: BootRequest,
    /// The QEMU command line, as a shell would spell it.
    pub command_line: String,
    /// How QEMU ended.
    pub exit: Exit,
    /// Everything the guest wrote to its serial port.
    pub serial: String,
    /// QEMU's own error output.
    pub qemu_stderr: String,
    /// Wall time of the boot.
    pub elapsed: Duration,
    /// The timeout it ran under.
    pub timeout: Duration,
}

/// Boots scenario `name` with the default archive.
pub fn boot_scenario(name: &str) -> BootRun {
    boot(BootRequest::scenario(name))
}

/// Boots `request` under the environment's timeout and records its time.
pub fn boot(request: BootRequest) -> BootRun {
    let environment = environment();
    let kernel = if request.production_kernel {
        &environment.production_kernel
    } else {
        &environment.kernel
    };
    let mut invocation = QemuInvocation::new(environment.qemu.clone(), kernel.clone());
    invocation.initrd = Some(
        request
            .initrd
            .clone()
            .unwrap_or_else(|| environment.boot_archive.clone()),
    );
    invocation.cmdline = request.cmdline.clone();
    invocation.accel = environment.accel;
    invocation.serial = Serial::Stdio;
    invocation.iommu = request.iommu;
    invocation.network = request.network;
    // Kept until QEMU has exited: the copy is removed when it is dropped.
    let own_disk = match &request.disk {
        Some(path) => {
            invocation.disk = Some(path.clone());
            None
        }
        None => {
            let disk = Disk::copy_for(&request.label);
            invocation.disk = Some(disk.path().to_owned());
            Some(disk)
        }
    };
    let command = invocation.command();
    let command_line = render_command(&command);
    let timeout = request
        .at_least
        .map_or(environment.timeout, |time| time.max(environment.timeout));
    let process = run_with_deadline(command, timeout, request.stop_marker.as_deref())
        .unwrap_or_else(|error| panic!("cannot start QEMU (`{command_line}`): {error}"));
    let run = BootRun {
        request,
        command_line,
        exit: process.exit,
        serial: String::from_utf8_lossy(&process.stdout).into_owned(),
        qemu_stderr: String::from_utf8_lossy(&process.stderr).into_owned(),
        elapsed: process.elapsed,
        timeout,
    };
    drop(own_disk);
    if let Some(path) = &environment.timings_file {
        let line = format!(
            "{}\t{:.2}\t{}\n",
            run.request.label,
            run.elapsed.as_secs_f64(),
            run.short_exit()
        );
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = file.write_all(line.as_bytes());
        }
    }
    run
}

impl BootRun {
    /// The serial output's lines, without line-ending characters.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.serial.lines().map(|line| line.trim_end_matches('\r'))
    }

    /// How QEMU ended, in two words: `exit 33`, `timeout`, `signal 9`, `stopped`.
    pub fn short_exit(&self) -> String {
        match self.exit {
            Exit::Status(status) => format!("exit {status}"),
            Exit::Signal(signal) => format!("signal {signal}"),
            Exit::TimedOut => "timeout".into(),
            Exit::MarkerSeen => "stopped".into(),
        }
    }

    /// How QEMU ended, in words.
    pub fn describe_exit(&self) -> String {
        match self.exit {
            Exit::Status(EXIT_STATUS_SUCCESS) => "exit 33 (kernel reported success)".into(),
            Exit::Status(EXIT_STATUS_FAILURE) => "exit 35 (kernel reported failure)".into(),
            Exit::Status(0) => {
                "exit 0 (a triple fault under -no-reboot, or QEMU quit on its own; never a success)"
                    .into()
            }
            Exit::Status(status) => format!("exit {status} (not an isa-debug-exit status)"),
            Exit::Signal(signal) => format!("killed by signal {signal}"),
            Exit::TimedOut => format!("killed at the {} s timeout", self.timeout.as_secs_f64()),
            Exit::MarkerSeen => "stopped by the harness after the expected line".into(),
        }
    }

    /// Fails the test with `why`, the QEMU command, how it ended, the serial log and QEMU's
    /// error output.
    #[track_caller]
    pub fn fail(&self, why: impl Display) -> ! {
        panic!("{}", self.report(why));
    }

    /// The failure report.
    pub fn report(&self, why: impl Display) -> String {
        let line_count = self.lines().count();
        format!(
            "\nscenario `{label}` failed: {why}\n\
             QEMU: {exit} after {elapsed:.2} s\n\
             command: {command}\n\
             ----- serial log ({line_count} lines) -----\n{serial}\n\
             ----- QEMU stderr -----\n{stderr}\n\
             ----- end -----",
            label = self.request.label,
            exit = self.describe_exit(),
            elapsed = self.elapsed.as_secs_f64(),
            command = self.command_line,
            serial = self.serial.trim_end(),
            stderr = self.qemu_stderr.trim_end(),
        )
    }

    /// Requires QEMU exit status 33 and no exception or panic report in the
    /// log. The kernel starts its reports on a line of their own; guests'
    /// text is escaped onto their own prefixed lines, so a guest that writes
    /// `PANIC at` (the hostile-process tests do) shows mid-line, not here.
    #[track_caller]
    pub fn expect_kernel_success(&self) -> &Self {
        if self.exit != Exit::Status(EXIT_STATUS_SUCCESS) {
            self.fail("expected QEMU exit status 33 (kernel success)");
        }
        self.expect_no_line_starting("EXCEPTION:")
            .expect_no_line_starting("PANIC at ")
    }

    /// Fails the test if any line starts with `prefix`.
    #[track_caller]
    pub fn expect_no_line_starting(&self, prefix: &str) -> &Self {
        if let Some(line) = self
            .lines()
            .find(|line| line.trim_start_matches('\r').starts_with(prefix))
        {
            self.fail(format!("unexpected serial line `{line}`"));
        }
        self
    }

    /// Requires QEMU exit status 35 (the kernel reported a failure).
    #[track_caller]
    pub fn expect_kernel_failure(&self) -> &Self {
        if self.exit != Exit::Status(EXIT_STATUS_FAILURE) {
            self.fail("expected QEMU exit status 35 (kernel-reported failure)");
        }
        self
    }

    /// Requires that the harness stopped QEMU because the stop marker appeared.
    #[track_caller]
    pub fn expect_stopped_at_marker(&self) -> &Self {
        if self.exit != Exit::MarkerSeen {
            let marker = self.request.stop_marker.as_deref().unwrap_or("<none>");
            self.fail(format!(
                "expected the serial line `{marker}` while QEMU kept running"
            ));
        }
        self
    }

    /// The first line containing `needle`; fails the test if there is none.
    #[track_caller]
    pub fn expect_line(&self, needle: &str) -> &str {
        self.lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| self.fail(format!("no serial line contains `{needle}`")))
    }

    /// Index of the first line containing `needle`; fails the test if there is none.
    #[track_caller]
    pub fn expect_line_index(&self, needle: &str) -> usize {
        self.lines()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| self.fail(format!("no serial line contains `{needle}`")))
    }

    /// Fails the test if any line contains `needle`.
    #[track_caller]
    pub fn expect_no_line(&self, needle: &str) -> &Self {
        if let Some(line) = self.lines().find(|line| line.contains(needle)) {
            self.fail(format!("unexpected serial line `{line}`"));
        }
        self
    }

    /// Requires a line containing `first` before a line containing `second`.
    #[track_caller]
    pub fn expect_order(&self, first: &str, second: &str) -> &Self {
        if self.expect_line_index(first) >= self.expect_line_index(second) {
            self.fail(format!("`{first}` should come before `{second}`"));
        }
        self
    }
}

/// A page fault as the kernel reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFault {
    /// The faulting address (CR2).
    pub cr2: u64,
    /// The CPU's page-fault error code.
    pub error_code: u64,
}

/// Page-fault error-code bit: the page was present (a protection violation).
pub const PAGE_FAULT_PRESENT: u64 = 0x1;
/// Page-fault error-code bit: the access was a write.
pub const PAGE_FAULT_WRITE: u64 = 0x2;

impl BootRun {
    /// The address announced by the line containing `announcement` (`... 0x%016x`).
    #[track_caller]
    pub fn expect_announced_address(&self, announcement: &str) -> u64 {
        let line = self.expect_line(announcement);
        let digits = line[line.find(announcement).expect("found above") + announcement.len()..]
            .trim_start()
            .strip_prefix("0x")
            .map(|rest| {
                rest.split(|c: char| !c.is_ascii_hexdigit())
                    .next()
                    .unwrap_or("")
            })
            .unwrap_or("");
        check_hex16(self, "announced address", digits);
        u64::from_str_radix(digits, 16).expect("16 hex digits")
    }

    /// The page fault reported as `EXCEPTION: ... (vector 14)` with `cr2=0x%016x` and
    /// `error_code=0x%x` on that line or the lines after it.
    #[track_caller]
    pub fn expect_page_fault(&self) -> PageFault {
        let start = self
            .lines()
            .position(|line| line.contains("EXCEPTION:") && line.contains("(vector 14)"))
            .unwrap_or_else(|| self.fail("no `EXCEPTION: ... (vector 14)` page-fault line"));
        let after: Vec<&str> = self.lines().skip(start).collect();
        let find = |key: &str| {
            after
                .iter()
                .find_map(|line| crate::serial::hex_digits_after(line, key))
                .unwrap_or_else(|| self.fail(format!("the page-fault report has no `{key}0x...`")))
        };
        let cr2 = find("cr2=");
        check_hex16(self, "cr2", cr2);
        let error_code = find("error_code=");
        PageFault {
            cr2: u64::from_str_radix(cr2, 16).expect("16 hex digits"),
            error_code: u64::from_str_radix(error_code, 16)
                .unwrap_or_else(|_| self.fail(format!("bad error_code `0x{error_code}`"))),
        }
    }
}

#[track_caller]
fn check_hex16(run: &BootRun, what: &str, digits: &str) {
    let lowercase = digits
        .bytes()
        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    if digits.len() != 16 || !lowercase {
        run.fail(format!(
            "{what} `0x{digits}` is not 16 lowercase hex digits as the contract says"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run as the harness would record it, with `serial` as the guest's output.
    fn recorded(exit: Exit, serial: &str) -> BootRun {
        BootRun {
            request: BootRequest::scenario("recorded"),
            command_line: "qemu-system-x86_64 ...".into(),
            exit,
            serial: serial.into(),
            qemu_stderr: String::new(),
            elapsed: Duration::from_millis(100),
            timeout: Duration::from_secs(60),
        }
    }

    /// Excerpt of a real `test=rodata_write` log from the kernel.
    const RODATA_LOG: &str = "\
cella: kernel main loop reached\r
INFO  scenarios: running scenario rodata_write\r
scenario rodata_write: writing to read-only address 0xffffffff8011ba40\r
\r
EXCEPTION: page fault (vector 14) error_code=0x3 rip=0xffffffff8010d656 cr2=0xffffffff8011ba40\r
  kernel write to a read-only page\r
";

    fn fails(check: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let error = std::panic::catch_unwind(check).expect_err("the check should fail");
        error.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn reads_a_real_page_fault_report() {
        let run = recorded(Exit::Status(35), RODATA_LOG);
        run.expect_kernel_failure();
        assert_eq!(
            run.expect_announced_address("scenario rodata_write: writing to read-only address"),
            0xffff_ffff_8011_ba40
        );
        assert_eq!(
            run.expect_page_fault(),
            PageFault {
                cr2: 0xffff_ffff_8011_ba40,
                error_code: 3
            }
        );
    }

    #[test]
    fn status_zero_and_timeouts_are_never_success() {
        for exit in [
            Exit::Status(0),
            Exit::TimedOut,
            Exit::Signal(9),
            Exit::Status(1),
        ] {
            let run = recorded(
                exit,
                "cella: kernel main loop reached\nscenario boot: passed\n",
            );
            let report = fails(move || {
                run.expect_kernel_success();
            });
            assert!(
                report.contains("scenario boot: passed"),
                "log missing: {report}"
            );
            assert!(report.contains("expected QEMU exit status 33"), "{report}");
        }
    }

    #[test]
    fn success_with_an_exception_in_the_log_fails() {
        let run = recorded(
            Exit::Status(33),
            "EXCEPTION: breakpoint (vector 3)\nscenario boot: passed\n",
        );
        let report = fails(move || {
            run.expect_kernel_success();
        });
        assert!(
            report.contains("unexpected serial line `EXCEPTION"),
            "{report}"
        );
    }

    #[test]
    fn a_kernel_panic_fails_success_and_escaped_guest_text_does_not() {
        let guest =
            "[forger] x\\nPANIC at kernel/src/forged.rs:1:1: forged\nscenario boot: passed\n";
        recorded(Exit::Status(33), guest).expect_kernel_success();
        let run = recorded(
            Exit::Status(33),
            "scenario boot: passed\r\nPANIC at kernel/src/main.rs:9:9: real\n",
        );
        let report = fails(move || {
            run.expect_kernel_success();
        });
        assert!(
            report.contains("unexpected serial line `PANIC at"),
            "{report}"
        );
    }

    #[test]
    fn malformed_cr2_is_rejected() {
        let run = recorded(
            Exit::Status(35),
            "EXCEPTION: page fault (vector 14) error_code=0x0 cr2=0xBADC0DE\n",
        );
        let report = fails(move || {
            run.expect_page_fault();
        });
        assert!(report.contains("not 16 lowercase hex digits"), "{report}");
    }
}
