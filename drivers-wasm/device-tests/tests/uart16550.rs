//! The uart16550 driver against a 16550A model.

use cella_device_tests::models::Uart16550;
use cella_device_tests::{
    TestSandbox, console_inputs, endpoints, log_messages, port_accesses, replies_to, start,
    uart_write,
};
use cella_wasm_host::{Access, Delivery, Event, Grant, SimulatedPlatform};

const COM1: u16 = 0x3f8;

fn grant() -> Grant {
    Grant::new()
        .port_range(COM1, 8)
        .irq_line(4)
        .endpoint("console", endpoints::CONSOLE)
}

fn boot() -> (SimulatedPlatform, Uart16550, TestSandbox) {
    let platform = SimulatedPlatform::new();
    let uart = Uart16550::new();
    platform.attach_ports(COM1, 8, uart.clone());
    let sandbox = start("cella-uart16550", &grant(), &platform);
    (platform, uart, sandbox)
}

/// Lets the line send and the driver refill until nothing is left.
fn run_transmitter(uart: &Uart16550, sandbox: &mut TestSandbox) {
    for _ in 0..100_000 {
        uart.send_line();
        if !uart.interrupt_pending() {
            return;
        }
        assert_eq!(
            sandbox.deliver(Event::Irq { line: 4 }).unwrap(),
            Delivery::Handled { count: 1 }
        );
    }
    panic!("the transmitter never went idle");
}

#[test]
fn init_programs_115200_8n1_with_fifo_and_receive_interrupt() {
    let (platform, uart, _sandbox) = boot();
    assert_eq!(
        port_accesses(&platform.accesses()),
        [
            ('w', COM1 + 1, 0x00), // interrupts off
            ('w', COM1 + 3, 0x80), // DLAB
            ('w', COM1, 0x01),     // divisor 1 = 115200
            ('w', COM1 + 1, 0x00),
            ('w', COM1 + 3, 0x03), // 8N1
            ('w', COM1 + 2, 0xc7), // FIFO on, cleared, receive trigger at 14 bytes
            ('w', COM1 + 4, 0x0b), // DTR RTS OUT2
            ('r', COM1 + 5, 0x60), // nothing received
            ('w', COM1 + 1, 0x01), // receive interrupt
        ]
    );
    assert_eq!(uart.configuration(), (1, 0x03, 0xc7, 0x0b));
    assert_eq!(uart.interrupt_enable(), 0x01);
    assert!(platform.irq_enabled(4));
    assert_eq!(
        log_messages(&platform),
        ["COM1 ready (115200 8N1, receive and transmit interrupt-driven)"]
    );
}

#[test]
fn transmit_fills_the_fifo_sixteen_bytes_at_a_time() {
    let (platform, uart, mut sandbox) = boot();
    platform.clear_accesses();
    let text: Vec<u8> = (0..40u8).map(|index| b'a' + index % 26).collect();
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: &uart_write(&text),
        })
        .unwrap();
    // One FIFO's worth written at once, then the THRE interrupt enabled.
    assert_eq!(uart.transmit_fifo(), text[..16]);
    assert_eq!(uart.interrupt_enable(), 0x03);
    let writes: Vec<_> = port_accesses(&platform.accesses())
        .into_iter()
        .filter(|(kind, ..)| *kind == 'w')
        .collect();
    assert_eq!(writes.len(), 17);
    assert_eq!(writes[16], ('w', COM1 + 1, 0x03));

    run_transmitter(&uart, &mut sandbox);
    assert_eq!(uart.transmitted(), text);
    assert_eq!(uart.transmit_overruns(), 0);
    assert_eq!(
        uart.interrupt_enable(),
        0x01,
        "THRE interrupt off when idle"
    );
    let acks = platform
        .accesses()
        .iter()
        .filter(|access| matches!(access, Access::IrqAcknowledge { line: 4 }))
        .count();
    assert_eq!(
        acks, 2,
        "40 bytes = 16 now, then 16 and the last 8 on two interrupts"
    );
}

#[test]
fn receive_sends_text_to_the_console() {
    let (_platform, uart, mut sandbox) = boot();
    uart.receive(b"hi\r");
    assert!(uart.interrupt_pending());
    sandbox.deliver(Event::Irq { line: 4 }).unwrap();
    assert_eq!(uart.receive_fifo_len(), 0);
    assert!(!uart.interrupt_pending());
    // A two-byte character split across interrupts, then an invalid byte.
    uart.receive(&[0xc3]);
    sandbox.deliver(Event::Irq { line: 4 }).unwrap();
    uart.receive(&[0xa9, b'!', 0xff]);
    sandbox.deliver(Event::Irq { line: 4 }).unwrap();
    let sent = console_inputs(&sandbox.outbox().drain(), endpoints::CONSOLE);
    assert_eq!(sent, ["hi\r", "é!\u{fffd}"]);
}

#[test]
fn queue_is_bounded_and_loses_nothing_it_accepted() {
    let (platform, uart, mut sandbox) = boot();
    let mut accepted = Vec::new();
    let largest = cella_interfaces::uart::MAX_WRITE_BYTES;
    for index in 0..16u8 {
        let chunk = vec![b'0' + index % 10; largest];
        sandbox
            .deliver(Event::Message {
                request: 0,
                bytes: &uart_write(&chunk),
            })
            .unwrap();
        accepted.extend_from_slice(&chunk);
    }
    // 16 writes of 4088 accepted, 16 bytes of them already in the FIFO:
    // 144 bytes of the 64 KiB queue are free, and 4088 more do not fit.
    let refused = vec![b'x'; largest];
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: &uart_write(&refused),
        })
        .unwrap();
    assert!(
        log_messages(&platform)
            .iter()
            .any(|line| line.starts_with("transmit queue full: refused 4088 bytes")),
        "{:?}",
        log_messages(&platform)
    );
    // A message that fits is accepted again.
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: &uart_write(b"tail"),
        })
        .unwrap();
    accepted.extend_from_slice(b"tail");
    run_transmitter(&uart, &mut sandbox);
    assert_eq!(uart.transmitted().len(), accepted.len());
    assert!(
        uart.transmitted() == accepted,
        "bytes lost, duplicated or reordered"
    );
    assert_eq!(uart.transmit_overruns(), 0);
    assert!(sandbox.is_alive());
}

#[test]
fn transmit_and_receive_interleave() {
    let (_platform, uart, mut sandbox) = boot();
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: &uart_write(b"0123456789abcdefXYZ"),
        })
        .unwrap();
    uart.receive(b"k");
    uart.send_line();
    // Received data has priority; one interrupt serves both.
    sandbox.deliver(Event::Irq { line: 4 }).unwrap();
    run_transmitter(&uart, &mut sandbox);
    assert_eq!(uart.transmitted(), b"0123456789abcdefXYZ");
    let sent = console_inputs(&sandbox.outbox().drain(), endpoints::CONSOLE);
    assert_eq!(sent, ["k"]);
}

#[test]
fn refuses_to_load_without_its_irq() {
    let platform = SimulatedPlatform::new();
    let grant = Grant::new()
        .port_range(COM1, 8)
        .endpoint("console", endpoints::CONSOLE);
    let Err(error) = cella_device_tests::try_start("cella-uart16550", &grant, &platform) else {
        panic!("loaded without its IRQ grant");
    };
    assert!(error.contains("irq 4"), "{error}");
}

#[test]
fn hot_swap_carries_the_queue_over_without_reprogramming_the_uart() {
    use cella_wasm_host::{Limits, QueueOutbox, Runtime};
    let platform = SimulatedPlatform::new();
    let uart = Uart16550::new();
    platform.attach_ports(COM1, 8, uart.clone());
    let mut runtime = Runtime::new(Limits::default());
    let bytes = cella_device_tests::wasm("cella-uart16550");
    let module = runtime.load("uart16550", &bytes, &grant()).unwrap();
    let mut sandbox = runtime
        .start(&module, platform.clone(), QueueOutbox::new(8))
        .unwrap();
    let text: Vec<u8> = (0..100u8).map(|index| b'A' + index % 26).collect();
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: &uart_write(&text),
        })
        .unwrap();
    platform.clear_accesses();
    let new_version = runtime.load("uart16550", &bytes, &grant()).unwrap();
    runtime.swap(&mut sandbox, &new_version).unwrap();
    // No register was touched by the swap; the line stays unmasked.
    assert_eq!(port_accesses(&platform.accesses()), []);
    assert!(platform.irq_enabled(4));
    assert!(
        log_messages(&platform)
            .iter()
            .any(|line| line == "version 1.0.0 took over with 84 bytes queued")
    );
    run_transmitter(&uart, &mut sandbox);
    assert_eq!(uart.transmitted(), text);
    assert_eq!(uart.interrupt_enable(), 0x01);
}

#[test]
fn a_write_puts_exactly_its_bytes_on_the_line() {
    let (_platform, uart, mut sandbox) = boot();
    let mut expected = Vec::new();
    for round in 0..300u32 {
        // Every byte value, escape sequences and line ends among them.
        let bytes: Vec<u8> = (0..=255u8).cycle().skip(round as usize).take(37).collect();
        sandbox
            .deliver(Event::Message {
                request: 0,
                bytes: &uart_write(&bytes),
            })
            .unwrap();
        expected.extend_from_slice(&bytes);
        run_transmitter(&uart, &mut sandbox);
    }
    assert_eq!(uart.transmitted(), expected);
}

#[test]
fn messages_that_are_not_writes_are_refused_and_the_driver_serves_on() {
    let (platform, uart, mut sandbox) = boot();
    let whole = uart_write(b"hello");
    let mut longer = whole.clone();
    longer.push(b'!');
    let bad: [&[u8]; 6] = [
        b"raw text with no operation",
        b"write",
        &whole[..whole.len() - 1],
        &longer,
        b"read\0\x01\x00x",
        b"",
    ];
    for round in 0..200 {
        for bytes in bad {
            let delivered = sandbox.deliver(Event::Message { request: 0, bytes });
            assert!(delivered.is_ok(), "round {round}: {delivered:?}");
        }
        assert!(sandbox.is_alive(), "round {round}");
    }
    assert_eq!(uart.transmitted(), b"", "a refused message wrote bytes");
    let refusals = log_messages(&platform)
        .iter()
        .filter(|line| line.starts_with("a message of ") && line.contains(" refused ("))
        .count();
    assert!(refusals >= 6, "{:?}", log_messages(&platform));
    assert!(
        log_messages(&platform).iter().any(|line| line
            == "a message of 26 bytes refused (starts \"raw text with no\"): no such operation"),
        "{:?}",
        log_messages(&platform)
    );
    // Still serving: a write and a call of a write both reach the line.
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: &whole,
        })
        .unwrap();
    sandbox
        .deliver(Event::Message {
            request: 7,
            bytes: &uart_write(b" world"),
        })
        .unwrap();
    run_transmitter(&uart, &mut sandbox);
    assert_eq!(uart.transmitted(), b"hello world");
    assert_eq!(replies_to(&sandbox.outbox().drain(), 7), [Vec::<u8>::new()]);
}
