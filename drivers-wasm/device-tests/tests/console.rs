//! The console server: echo rules, long input, and a whole loop of
//! keyboard/UART input through the console back to the UART.

use cella_device_tests::models::Uart16550;
use cella_device_tests::{TestSandbox, endpoints, log_messages, sent_to, start};
use cella_interfaces::{console, uart};
use cella_wasm_host::{Event, Grant, SimulatedPlatform};

fn console(platform: &SimulatedPlatform) -> TestSandbox {
    start(
        "cella-console",
        &Grant::new().endpoint("uart", endpoints::UART),
        platform,
    )
}

/// A `console` `input` of `text`, as a driver sends it.
fn input(text: &str) -> Vec<u8> {
    let mut message = vec![0; text.len() + 8];
    let length = console::input::request(&mut message, text).unwrap();
    message.truncate(length);
    message
}

/// Delivers `message` and returns the messages the server sent to `uart`.
fn deliver(sandbox: &mut TestSandbox, message: &[u8]) -> Vec<Vec<u8>> {
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: message,
        })
        .unwrap();
    sent_to(&sandbox.outbox().drain(), endpoints::UART)
}

/// Types `text` and returns the bytes the echo writes, each message checked
/// to be a `uart` `write`.
fn echo(sandbox: &mut TestSandbox, text: &str) -> Vec<Vec<u8>> {
    deliver(sandbox, &input(text))
        .iter()
        .map(|message| uart::written(message).expect("a uart write").to_vec())
        .collect()
}

#[test]
fn echoes_with_newline_and_backspace_rules() {
    let platform = SimulatedPlatform::new();
    let mut sandbox = console(&platform);
    assert_eq!(log_messages(&platform), ["ready"]);
    assert_eq!(
        echo(&mut sandbox, "ab\rc\x7fd\x08\n"),
        [b"ab\r\nc\x08 \x08d\x08 \x08\r\n".to_vec()]
    );
    assert_eq!(echo(&mut sandbox, "é"), ["é".as_bytes().to_vec()]);
}

#[test]
fn long_echo_is_split_into_whole_messages() {
    let platform = SimulatedPlatform::new();
    let mut sandbox = console(&platform);
    let most = "\n".repeat(console::MAX_INPUT_BYTES);
    let sent = deliver(&mut sandbox, &input(&most));
    // 8176 bytes of echo: two writes filled to within the three bytes an
    // echo rule needs, and the rest.
    assert_eq!(sent.len(), 3);
    assert!(
        sent[..2]
            .iter()
            .all(|message| (4096 - 2..=4096).contains(&message.len()))
    );
    let echoed: Vec<u8> = sent
        .iter()
        .flat_map(|message| uart::written(message).expect("a uart write").to_vec())
        .collect();
    assert_eq!(echoed, b"\r\n".repeat(console::MAX_INPUT_BYTES));
}

#[test]
fn a_redraw_writes_nothing_and_bad_messages_are_refused_without_stopping_the_echo() {
    let platform = SimulatedPlatform::new();
    let mut sandbox = console(&platform);
    let mut redraw = [0; 64];
    let length = console::redraw::request(&mut redraw).unwrap();
    assert_eq!(
        deliver(&mut sandbox, &redraw[..length]),
        Vec::<Vec<u8>>::new()
    );
    let bad: [&[u8]; 5] = [
        b"typed text",
        b"input\0\x05\x00ab",
        b"\x02Sold",
        b"answer\0\x06\x00done\r\n\x01",
        b"",
    ];
    for round in 0..200 {
        for bytes in bad {
            assert_eq!(
                deliver(&mut sandbox, bytes),
                Vec::<Vec<u8>>::new(),
                "round {round}"
            );
        }
        assert_eq!(echo(&mut sandbox, "x"), [b"x".to_vec()], "round {round}");
    }
    assert!(
        log_messages(&platform).iter().any(|line| line
            == "a message of 10 bytes refused (starts \"typed text\"): no such operation"),
        "{:?}",
        log_messages(&platform)
    );
}

#[test]
fn typed_line_comes_back_on_the_wire() {
    // uart16550 receives "hi\r" -> console -> uart16550 transmits the echo.
    let platform = SimulatedPlatform::new();
    let uart = Uart16550::new();
    platform.attach_ports(0x3f8, 8, uart.clone());
    let mut driver = start(
        "cella-uart16550",
        &Grant::new()
            .port_range(0x3f8, 8)
            .irq_line(4)
            .endpoint("console", endpoints::CONSOLE),
        &platform,
    );
    let mut server = console(&platform);
    uart.receive(b"hi\r");
    driver.deliver(Event::Irq { line: 4 }).unwrap();
    for input in sent_to(&driver.outbox().drain(), endpoints::CONSOLE) {
        for output in deliver(&mut server, &input) {
            driver
                .deliver(Event::Message {
                    request: 0,
                    bytes: &output,
                })
                .unwrap();
        }
    }
    for _ in 0..10 {
        uart.send_line();
        if uart.interrupt_pending() {
            driver.deliver(Event::Irq { line: 4 }).unwrap();
        }
    }
    assert_eq!(uart.transmitted(), b"hi\r\n");
}
