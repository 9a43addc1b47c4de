//! The HTTP status server (`modules/httpd`) for real: the test system boots with the host's
//! loopback port forwarded to the guest's TCP port 80, and an HTTP client on the host
//! fetches `/api/ps`, `/api/log`, `/api/caps/NAME` and `/`. Every module row of `/api/ps` is
//! one of the shell's `ps` of the same boot (name, version, state; the counters are
//! numbers), a module's faults appear in `/api/log` with their device-access traces, unknown
//! paths and names get 404, garbage and an oversize head 400, 50 requests in a row leave the
//! kernel heap where it was, downloads and uploads carry their bytes, after `swap httpd`
//! the new instance serves on the same port, and after `restart httpd` (whose predecessor's
//! listener netstack keeps until it is abandoned) a new instance serves within seconds.

use cella::http_client::Response;
use cella::qemu::{Network, free_host_port};
use cella_qemu_tests::{Session, fnv1a, http};
use serde_json::Value;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(90);

/// The answer's body as JSON.
fn json(session: &Session, answer: &Response) -> Value {
    serde_json::from_slice(&answer.body)
        .unwrap_or_else(|error| session.fail(format!("not JSON ({error}):\n{}", answer.text())))
}

/// Sends `request` to the guest's port 80 through `port` (connecting again
/// until the guest listens) and reads the answer, which must say its length.
fn exchange(session: &Session, port: u16, request: &[u8]) -> Response {
    let deadline = Instant::now() + WAIT;
    let answer = loop {
        match http::exchange(port, request, WAIT) {
            Ok(answer) => break answer,
            Err(error) if error.starts_with("cannot connect") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(error) => session.fail(error),
        }
    };
    if !answer
        .head
        .lines()
        .any(|line| line.starts_with("Content-Length: "))
    {
        session.fail(format!("no Content-Length:\n{}", answer.head));
    }
    answer
}

fn get(session: &Session, port: u16, path: &str) -> Response {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    exchange(session, port, request.as_bytes())
}

/// `ps`'s module rows as `NAME VERSION STATE` (native processes, whose GEN is `-`, left out).
fn ps_modules(ps: &str) -> Vec<[String; 3]> {
    ps.lines()
        .skip_while(|line| !line.starts_with("NAME"))
        .skip(1)
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [name, version, generation, state, ..] = words[..] else {
                return None;
            };
            generation.parse::<u32>().ok()?;
            Some([name, version, state].map(str::to_owned))
        })
        .collect()
}

/// `/api/ps`'s module rows as `NAME VERSION STATE`; every counter must be a number.
fn json_modules(session: &Session, ps: &Value) -> Vec<[String; 3]> {
    let Some(modules) = ps["modules"].as_array() else {
        session.fail(format!("no modules array: {ps}"));
    };
    modules
        .iter()
        .map(|module| {
            for counter in [
                "generation",
                "restarts",
                "events",
                "fuel",
                "memory_kib",
                "log_lines_dropped",
            ] {
                if !module[counter].is_u64() {
                    session.fail(format!("`{counter}` is not a number: {module}"));
                }
            }
            ["name", "version", "state"].map(|key| {
                module[key]
                    .as_str()
                    .unwrap_or_else(|| session.fail(format!("`{key}` is not a string: {module}")))
                    .to_owned()
            })
        })
        .collect()
}

fn rows_text(rows: &[[String; 3]]) -> String {
    rows.iter()
        .map(|row| row.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The kernel heap in use, from `/api/ps`'s status.
fn heap_used(session: &Session, port: u16) -> u64 {
    let ps = json(session, &get(session, port, "/api/ps"));
    ps["status"]["heap_used"]
        .as_u64()
        .unwrap_or_else(|| session.fail(format!("no heap_used: {ps}")))
}

#[test]
fn the_status_server_answers_what_ps_shows_and_refuses_bad_requests() {
    let port = free_host_port(0).expect("a free port");
    let network = Network {
        host_port: Some(port),
        ..Network::default()
    };
    let mut session = Session::at_prompt_on_network("status-page", network);
    session.wait_for("netstack: address: 10.0.2.15/24", WAIT);
    session.wait_for("httpd: serving the status page on TCP port 80", WAIT);

    // A module that faults (a trespass on a port it was not granted), so the log has records.
    session.type_line("start trespass");
    session.wait_for("supervisor: trespass is on hold after 4 faults", WAIT);

    // /api/ps against the shell's `ps` of the same boot.
    let answer = get(&session, port, "/api/ps");
    if answer.status != 200 || !answer.head.contains("Content-Type: application/json") {
        session.fail(format!("/api/ps: {}\n{}", answer.head, answer.text()));
    }
    let ps_json = json(&session, &answer);
    let shown = ps_modules(&session.type_line("ps"));
    let served = json_modules(&session, &ps_json);
    println!(
        "{} module rows in /api/ps, {} in `ps`",
        served.len(),
        shown.len()
    );
    if served.is_empty() || served != shown {
        session.fail(format!(
            "/api/ps differs from `ps`:\n/api/ps:\n{}\nps:\n{}",
            rows_text(&served),
            rows_text(&shown)
        ));
    }
    for module in ["httpd", "netstack", "shell"] {
        if !served
            .iter()
            .any(|row| row[0] == module && row[2] == "running")
        {
            session.fail(format!("{module} is not running in /api/ps"));
        }
    }
    let status = &ps_json["status"];
    if status["modules_total"].as_u64() != Some(served.len() as u64)
        || !status["uptime_ns"].is_u64()
        || !status["heap_free"].is_u64()
    {
        session.fail(format!("the status does not count the modules: {status}"));
    }
    if !ps_json["processes"].is_array() {
        session.fail(format!("no processes array: {ps_json}"));
    }

    // /api/log: the trespasser's faults, with the refused port write before each.
    let log = get(&session, port, "/api/log");
    let log_json = json(&session, &log);
    let faults = log_json["faults"].as_array().cloned().unwrap_or_default();
    let trespasses: Vec<&Value> = faults
        .iter()
        .filter(|fault| fault["module"] == "trespass")
        .collect();
    if log.status != 200 || trespasses.len() != 4 {
        session.fail(format!(
            "/api/log has {} trespass faults (want 4): {log_json}",
            trespasses.len()
        ));
    }
    for fault in trespasses {
        let accesses = fault["accesses"].as_array().cloned().unwrap_or_default();
        let reason = fault["reason"].as_str().unwrap_or_default();
        if !reason.contains("capability violations")
            || !accesses.iter().any(|access| {
                access
                    .as_str()
                    .is_some_and(|text| text.contains("port_out8"))
            })
        {
            session.fail(format!(
                "a trespass fault without its reason or trace: {fault}"
            ));
        }
    }

    // /api/caps/NAME is `caps NAME`; an unknown name is a 404 with a JSON error.
    let caps = get(&session, port, "/api/caps/httpd");
    let caps_json = json(&session, &caps);
    let texts: Vec<String> = caps_json["capabilities"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|row| {
            format!(
                "{} {}",
                row["kind"].as_str().unwrap_or("?"),
                row["text"].as_str().unwrap_or("?")
            )
        })
        .collect();
    if caps.status != 200
        || caps_json["module"] != "httpd"
        || caps_json["state"] != "running"
        || !texts.iter().any(|text| text == "granted endpoint sockets")
        || !texts
            .iter()
            .any(|text| text == "granted endpoint supervisor")
    {
        session.fail(format!("/api/caps/httpd: {caps_json}"));
    }
    let shell_caps = session.type_line("caps httpd");
    for text in &texts {
        let (_, line) = text.split_once(' ').unwrap();
        if !shell_caps.contains(line) {
            session.fail(format!("`{text}` is not in `caps httpd`:\n{shell_caps}"));
        }
    }
    let missing = get(&session, port, "/api/caps/no-such-module");
    if missing.status != 404 || json(&session, &missing)["error"] != "no such module" {
        session.fail(format!(
            "/api/caps of an unknown name: {}\n{}",
            missing.head,
            missing.text()
        ));
    }

    // The page: HTML naming every module.
    let page = get(&session, port, "/");
    let html = page.text();
    if page.status != 200
        || !page.head.contains("Content-Type: text/html")
        || !html.starts_with("<!DOCTYPE html>")
    {
        session.fail(format!("/: {}\n{html}", page.head));
    }
    for row in &shown {
        if !html.contains(&format!("<tr><td>{}</td><td>{}</td>", row[0], row[1])) {
            session.fail(format!("/ does not show module {}", row[0]));
        }
    }

    // Refusals: unknown path 404, other method 405, garbage and an oversize head 400.
    let cases: [(&str, Vec<u8>, u16); 5] = [
        (
            "an unknown path",
            b"GET /nothing HTTP/1.1\r\n\r\n".to_vec(),
            404,
        ),
        ("DELETE", b"DELETE / HTTP/1.1\r\n\r\n".to_vec(), 405),
        ("garbage", b"\x16\x03\x01 hello\r\n\r\n".to_vec(), 400),
        ("a bad version", b"GET / HTTP/9.9\r\n\r\n".to_vec(), 400),
        (
            "a 9000-byte head",
            {
                let mut long = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
                long.resize(9000, b'a');
                long.extend_from_slice(b"\r\n\r\n");
                long
            },
            400,
        ),
    ];
    for (what, request, expected) in cases {
        let answer = exchange(&session, port, &request);
        if answer.status != expected || !answer.text().starts_with("{\"error\":\"") {
            session.fail(format!(
                "{what}: want {expected}, got {}\n{}",
                answer.head,
                answer.text()
            ));
        }
    }

    // A download's bytes are the documented pattern; an upload's count and hash come back.
    let count = 100_000u64;
    let download = get(&session, port, &format!("/download/{count}"));
    if download.status != 200 || download.body.len() as u64 != count {
        session.fail(format!(
            "/download/{count}: {} and {} bytes",
            download.head,
            download.body.len()
        ));
    }
    for (index, &byte) in download.body.iter().enumerate() {
        let index = index as u64;
        if u64::from(byte) != (index * 31 + index / 4096) % 251 {
            session.fail(format!("download byte {index} is {byte}"));
        }
    }
    let upload: Vec<u8> = (0..200_000u32).map(|index| (index % 253) as u8).collect();
    let mut request = format!(
        "POST /upload HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        upload.len()
    )
    .into_bytes();
    request.extend_from_slice(&upload);
    let uploaded = json(&session, &exchange(&session, port, &request));
    let expected = format!("{:08x}", fnv1a(&upload));
    if uploaded["bytes"] != 200_000 || uploaded["fnv1a"] != expected.as_str() {
        session.fail(format!(
            "/upload answered {uploaded}, want 200000 bytes and {expected}"
        ));
    }

    // 50 requests in a row, after 20 to warm up: the kernel heap stays where it was.
    for _ in 0..20 {
        get(&session, port, "/api/ps");
    }
    let before = heap_used(&session, port);
    for round in 0..50 {
        let path = ["/api/ps", "/api/log", "/", "/api/caps/netstack", "/nothing"][round % 5];
        let answer = get(&session, port, path);
        if answer.status != 200 && path != "/nothing" {
            session.fail(format!("round {round}: {path}: {}", answer.head));
        }
    }
    let after = heap_used(&session, port);
    println!(
        "kernel heap: {} KiB before 50 requests, {} KiB after",
        before / 1024,
        after / 1024
    );
    if after > before + 64 * 1024 {
        session.fail(format!(
            "the kernel heap grew from {before} to {after} bytes over 50 requests"
        ));
    }

    // A hot swap with the same module: the new instance serves on the same port.
    let httpd_generation = |ps: &Value| {
        ps["modules"]
            .as_array()
            .and_then(|modules| modules.iter().find(|module| module["name"] == "httpd"))
            .and_then(|module| module["generation"].as_u64())
    };
    let generation = httpd_generation(&ps_json);
    session.expect_answer(
        "swap httpd modules/httpd.wasm",
        "httpd: swapped 1.0.0 -> 1.0.0",
    );
    let after_swap = json(&session, &get(&session, port, "/api/ps"));
    if httpd_generation(&after_swap) <= generation {
        session.fail(format!(
            "httpd's generation did not move on with the swap: {after_swap}"
        ));
    }
    session.expect_answer("ps", "httpd");

    // A restart leaves the listener the old instance made in netstack; it is abandoned (nobody
    // asks it to accept) and the new instance takes port 80 within a few seconds.
    let before_restart = httpd_generation(&after_swap);
    session.expect_answer("restart httpd", "httpd: running");
    let restarted = Instant::now();
    let answer = loop {
        match http::get(port, "/api/ps", Duration::from_secs(10)) {
            Ok(answer) if answer.status == 200 => break answer,
            _ if restarted.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(250))
            }
            other => session.fail(format!(
                "port 80 did not answer within 20 s of `restart httpd`: {other:?}"
            )),
        }
    };
    let after_restart: Value = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|error| session.fail(format!("/api/ps after the restart: {error}")));
    if httpd_generation(&after_restart) <= before_restart {
        session.fail(format!(
            "a new httpd did not answer after the restart: {after_restart}"
        ));
    }
    println!(
        "status_page: port 80 answered {:.1} s after `restart httpd`",
        restarted.elapsed().as_secs_f64()
    );
}
