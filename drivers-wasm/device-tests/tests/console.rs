//! The console server: echo rules, long input, and a whole loop of
//! keyboard/UART input through the console back to the UART.

use cella_device_tests::models::Uart16550;
use cella_device_tests::{TestSandbox, endpoints, log_messages, sent_to, start};
use cella_wasm_host::{Event, Grant, SimulatedPlatform};

fn console(platform: &SimulatedPlatform) -> TestSandbox {
    start(
        "cella-console",
        &Grant::new().endpoint("uart", endpoints::UART),
        platform,
    )
}

fn echo(sandbox: &mut TestSandbox, input: &[u8]) -> Vec<Vec<u8>> {
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: input,
        })
        .unwrap();
    sent_to(&sandbox.outbox().drain(), endpoints::UART)
}

#[test]
fn echoes_with_newline_and_backspace_rules() {
    let platform = SimulatedPlatform::new();
    let mut sandbox = console(&platform);
    assert_eq!(log_messages(&platform), ["ready"]);
    assert_eq!(
        echo(&mut sandbox, b"ab\rc\x7fd\x08\n"),
        [b"ab\r\nc\x08 \x08d\x08 \x08\r\n".to_vec()]
    );
    assert_eq!(
        echo(&mut sandbox, "é".as_bytes()),
        ["é".as_bytes().to_vec()]
    );
}

#[test]
fn long_echo_is_split_into_whole_messages() {
    let platform = SimulatedPlatform::new();
    let mut sandbox = console(&platform);
    let sent = echo(&mut sandbox, &[b'\n'; 4096]);
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|message| message.len() == 4096));
    assert_eq!(sent.concat(), b"\r\n".repeat(4096));
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
        for output in echo(&mut server, &input) {
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
