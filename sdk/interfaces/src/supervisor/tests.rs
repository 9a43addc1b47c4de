use super::*;
use crate::Text;

/// A supervisor with `modules` modules named `module-N`, one fault and one
/// module `rtc` with two capability lines.
struct Table {
    modules: u32,
    names: [[u8; 16]; 200],
    page: [u8; MAX_PAGE_BYTES],
}

impl Table {
    fn new(modules: u32) -> Table {
        let mut names = [[0u8; 16]; 200];
        for (index, name) in names.iter_mut().enumerate() {
            let text = b"module-000";
            name[..10].copy_from_slice(text);
            name[7] = b'0' + (index / 100) as u8;
            name[8] = b'0' + (index / 10 % 10) as u8;
            name[9] = b'0' + (index % 10) as u8;
        }
        Table {
            modules,
            names,
            page: [0; MAX_PAGE_BYTES],
        }
    }

    fn name(&self, index: usize) -> &str {
        core::str::from_utf8(&self.names[index][..10]).unwrap()
    }
}

impl Server for Table {
    fn modules(&mut self, start: u32) -> Result<ModulePage<'_>, SupervisorError> {
        let names = self.names;
        let rows = (0..self.modules as usize).map(|index| ModuleRow {
            name: core::str::from_utf8(&names[index][..10]).unwrap(),
            version: "1.0.0",
            generation: index as u32 + 1,
            state: "running",
            restarts: 0,
            events: 7,
            fuel: 1000,
            memory_kib: 64,
            log_lines_dropped: 0,
            warnings_dropped: 0,
            lines_held_back: 0,
        });
        let packed = pack(rows, start, &mut self.page)?;
        Ok(packed.page(start, &self.page))
    }

    fn processes(&mut self, start: u32) -> Result<ProcessPage<'_>, SupervisorError> {
        let packed = pack(core::iter::empty::<ProcessRow<'_>>(), start, &mut self.page)?;
        Ok(Page::new(start, packed.count, packed.next, &[]))
    }

    fn faults(&mut self, start: u32) -> Result<FaultPage<'_>, SupervisorError> {
        let rows = [FaultRow {
            time_ns: 1_500_000_000,
            module: "oob",
            generation: 6,
            handling: "a message of 3 bytes (request 0)",
            reason: "module oob faulted in on_message: trap: out of bounds",
            accesses: "read port 0x70 1 -> 0x1\nwrite port 0x71 1 <- 0x2",
        }];
        let packed = pack(rows, start, &mut self.page)?;
        Ok(packed.page(start, &self.page))
    }

    fn capabilities(
        &mut self,
        name: &str,
        start: u32,
    ) -> Result<Capabilities<'_>, SupervisorError> {
        if name != "rtc" {
            return Err(SupervisorError::NotFound);
        }
        let rows = [
            CapabilityRow {
                kind: CapabilityKind::Granted,
                text: "port 0x70 2",
            },
            CapabilityRow {
                kind: CapabilityKind::Held,
                text: "port 0x70 2",
            },
        ];
        let packed = pack(rows, start, &mut self.page)?;
        Ok(Capabilities {
            module: "rtc",
            state: "running",
            generation: 4,
            page: packed.page(start, &self.page),
        })
    }

    fn status(&mut self) -> Result<Status, SupervisorError> {
        Ok(Status {
            uptime_ns: 12_345_000_000,
            heap_used: 2048 * 1024,
            heap_free: 30720 * 1024,
            modules_up: 8,
            modules_total: self.modules,
        })
    }

    fn run(&mut self, line: &str) -> Result<CommandAnswer<'_>, SupervisorError> {
        Err(if line.is_empty() {
            SupervisorError::BadArgument
        } else {
            SupervisorError::Busy
        })
    }

    fn report_page(&mut self, _page: u32) -> Result<CommandAnswer<'_>, SupervisorError> {
        Err(SupervisorError::NoReport)
    }
}

/// Asks `table` for `request` and gives the answer's bytes.
fn ask(table: &mut Table, request: &[u8], reply: &mut [u8; 4096]) -> usize {
    serve(table, request, reply).unwrap()
}

#[test]
fn a_table_longer_than_one_answer_comes_in_pages_that_hold_every_row_once() {
    let mut table = Table::new(150);
    let mut request = [0; 16];
    let mut reply = [0; 4096];
    let mut start = 0;
    let mut seen = 0;
    let mut pages = 0;
    loop {
        let length = modules::request(&mut request, start).unwrap();
        let answered = ask(&mut table, &request[..length], &mut reply);
        assert!(answered <= 4096, "one answer fits one message");
        let page = modules::reply(&reply[..answered]).unwrap().unwrap();
        assert_eq!(page.start, start);
        for row in page.rows() {
            let row = row.unwrap();
            assert_eq!(row.name, table.name(seen));
            assert_eq!(row.generation, seen as u32 + 1);
            seen += 1;
        }
        pages += 1;
        if page.next == 0 {
            break;
        }
        assert_eq!(
            page.next as usize, seen,
            "the next page starts after the last row"
        );
        start = page.next;
    }
    assert_eq!(seen, 150);
    assert!(pages > 1, "150 rows take more than one answer");
}

#[test]
fn a_start_past_the_end_is_refused_and_the_end_itself_is_an_empty_page() {
    let mut table = Table::new(3);
    let mut request = [0; 16];
    let mut reply = [0; 4096];
    let length = modules::request(&mut request, 4).unwrap();
    let answered = ask(&mut table, &request[..length], &mut reply);
    assert_eq!(
        modules::reply(&reply[..answered]).unwrap(),
        Err(SupervisorError::BadArgument)
    );
    let length = modules::request(&mut request, 3).unwrap();
    let answered = ask(&mut table, &request[..length], &mut reply);
    let page = modules::reply(&reply[..answered]).unwrap().unwrap();
    assert_eq!((page.count, page.next), (0, 0));
}

#[test]
fn a_row_longer_than_a_page_is_refused_rather_than_cut() {
    let long = [b'x'; MAX_PAGE_BYTES];
    let row = ProcessRow {
        name: "p",
        line: core::str::from_utf8(&long).unwrap(),
    };
    let mut buffer = [0; MAX_PAGE_BYTES];
    assert_eq!(pack([row], 0, &mut buffer), Err(SupervisorError::TooLong));
}

#[test]
fn an_unknown_module_and_garbage_are_errors_not_answers() {
    let mut table = Table::new(1);
    let mut request = [0; 64];
    let mut reply = [0; 4096];
    let length = capabilities::request(&mut request, "nope", 0).unwrap();
    let answered = ask(&mut table, &request[..length], &mut reply);
    assert_eq!(
        capabilities::reply(&reply[..answered]).unwrap(),
        Err(SupervisorError::NotFound)
    );
    assert_eq!(
        serve(&mut table, b"restart shell", &mut reply),
        Err(WireError::UnknownOperation)
    );
    assert_eq!(
        serve(&mut table, b"modules\0\x01", &mut reply),
        Err(WireError::Truncated)
    );
    assert_eq!(
        serve(&mut table, b"status\0\x01\x02", &mut reply),
        Err(WireError::TrailingBytes)
    );
    assert_eq!(modules::reply(&[0, 1, 2]), Err(WireError::Truncated));
}

#[test]
fn every_operation_but_run_is_idempotent() {
    let names: [&str; 7] = [
        "modules",
        "processes",
        "faults",
        "capabilities",
        "status",
        "run",
        "report_page",
    ];
    assert_eq!(OPERATIONS.len(), names.len());
    for (operation, name) in OPERATIONS.iter().zip(names) {
        assert_eq!(operation.name, name);
        assert_eq!(operation.idempotent, name != "run", "{name}");
    }
}

#[test]
fn the_shell_renders_status_capabilities_and_faults_as_text() {
    let mut table = Table::new(11);
    let mut request = [0; 64];
    let mut reply = [0; 4096];
    let length = crate::request_from_text("supervisor", "status", &mut request)
        .unwrap()
        .unwrap();
    let answered = ask(&mut table, &request[..length], &mut reply);
    let mut text = Text::default();
    crate::render_reply(
        "supervisor",
        &request[..length],
        &reply[..answered],
        &mut text,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        text.as_str(),
        "up 12.345 s; kernel heap 2048 KiB used, 30720 KiB free; 8 of 11 modules running"
    );

    let length = crate::request_from_text("supervisor", "capabilities rtc 0", &mut request)
        .unwrap()
        .unwrap();
    let answered = ask(&mut table, &request[..length], &mut reply);
    let mut text = Text::default();
    crate::render_reply(
        "supervisor",
        &request[..length],
        &reply[..answered],
        &mut text,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        text.as_str(),
        "rtc running, instance 4:\ngranted port 0x70 2\nheld port 0x70 2"
    );

    let length = faults::request(&mut request, 0).unwrap();
    let answered = ask(&mut table, &request[..length], &mut reply);
    let mut text = Text::default();
    render_reply(&request[..length], &reply[..answered], &mut text).unwrap();
    assert_eq!(
        text.as_str(),
        "[     1.500 s] oob generation 6: module oob faulted in on_message: trap: out of bounds\n    it was handling: a message of 3 bytes (request 0)\n    before: read port 0x70 1 -> 0x1\n    before: write port 0x71 1 <- 0x2"
    );
}
