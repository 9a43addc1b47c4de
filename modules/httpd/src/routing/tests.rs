use super::*;
use crate::fakes::{FakeSupervisor, Fault};
use crate::request::{Head, Method};

fn get(path: &str) -> Head<'_> {
    Head {
        method: Method::Get,
        path,
        content_length: None,
    }
}

#[test]
fn paths_and_methods_reach_their_routes() {
    assert_eq!(route(&get("/")), Route::Page);
    assert_eq!(route(&get("/api/ps")), Route::Ps);
    assert_eq!(route(&get("/api/log")), Route::Log);
    assert_eq!(
        route(&get("/api/caps/virtio-net")),
        Route::Capabilities("virtio-net")
    );
    assert_eq!(route(&get("/download/0")), Route::Download(0));
    assert_eq!(
        route(&get("/download/1073741824")),
        Route::Download(1 << 30)
    );
    let upload = Head {
        method: Method::Post,
        path: "/upload",
        content_length: Some(16 << 20),
    };
    assert_eq!(route(&upload), Route::Upload(16 << 20));
    let refused = |head: &Head<'_>| match route(head) {
        Route::Refused(status, _) => status,
        other => panic!("{other:?}"),
    };
    for path in [
        "/nothing",
        "/api",
        "/api/ps/",
        "/api/caps/",
        "/api/caps/a%20b",
        "/download/x",
        "/download/-1",
    ] {
        assert_eq!(refused(&get(path)), Status::NotFound, "{path}");
    }
    assert_eq!(refused(&get("/download/1073741825")), Status::BadRequest);
    assert_eq!(refused(&get("/upload")), Status::MethodNotAllowed);
    let post = |path| Head {
        method: Method::Post,
        path,
        content_length: Some(0),
    };
    assert_eq!(refused(&post("/")), Status::MethodNotAllowed);
    assert_eq!(refused(&post("/api/ps")), Status::MethodNotAllowed);
    let other = Head {
        method: Method::Other,
        path: "/nothing",
        content_length: None,
    };
    assert_eq!(refused(&other), Status::MethodNotAllowed);
    assert_eq!(
        refused(&Head {
            content_length: None,
            ..post("/upload")
        }),
        Status::BadRequest
    );
    assert_eq!(
        refused(&Head {
            content_length: Some((1 << 30) + 1),
            ..post("/upload")
        }),
        Status::PayloadTooLarge
    );
}

fn body(answer: &Answer) -> String {
    String::from_utf8(answer.body.as_bytes().to_vec()).unwrap()
}

fn head(answer: &Answer) -> &str {
    answer.head.as_str()
}

#[test]
fn ps_lists_every_module_over_several_pages_as_json() {
    let names: Vec<String> = (0..30).map(|index| format!("module-{index}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut supervisor = FakeSupervisor::with_modules(&names);
    supervisor
        .processes
        .push(("checksum".into(), "checksum native - running \"x\"".into()));
    let answer = answer(&Route::Ps, &supervisor);
    assert!(
        head(&answer).starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        head(&answer)
    );
    let text = body(&answer);
    assert!(head(&answer).contains(&format!("Content-Length: {}\r\n", text.len())));
    assert!(head(&answer).contains("Content-Type: application/json\r\n"));
    assert!(
        text.starts_with(
            "{\"status\":{\"uptime_ns\":12345000000,\"heap_used\":2097152,\"heap_free\":31457280,\
\"modules_up\":30,\"modules_total\":30},\"modules\":[{\"name\":\"module-0\",\"version\":\"1.0.0\""
        ),
        "{text}"
    );
    for (index, name) in names.iter().enumerate() {
        assert!(
            text.contains(&format!(
                "{{\"name\":\"{name}\",\"version\":\"1.0.0\",\"generation\":{},",
                index + 1
            )),
            "{name}"
        );
    }
    assert_eq!(text.matches("{\"name\":\"module-").count(), 30);
    assert!(text.ends_with(
        "],\"processes\":[{\"name\":\"checksum\",\"line\":\"checksum native - running \\\"x\\\"\"}]}"
    ), "{text}");
    // Many pages were read (160-byte pages hold a few rows each).
    assert!(*supervisor.calls.borrow() > 5);
}

#[test]
fn capabilities_of_a_module_and_404_for_an_unknown_name() {
    let supervisor = FakeSupervisor::with_modules(&["netstack", "httpd"]);
    let found = answer(&Route::Capabilities("httpd"), &supervisor);
    assert!(head(&found).starts_with("HTTP/1.1 200 OK"));
    assert_eq!(
        body(&found),
        "{\"module\":\"httpd\",\"state\":\"running\",\"generation\":2,\"capabilities\":[\
{\"kind\":\"granted\",\"text\":\"endpoint sockets\"},{\"kind\":\"serves\",\"text\":\"http \\\"quoted\\\"\"},\
{\"kind\":\"held\",\"text\":\"timer\"}]}"
    );
    let missing = answer(&Route::Capabilities("nobody"), &supervisor);
    assert!(head(&missing).starts_with("HTTP/1.1 404 Not Found\r\n"));
    assert_eq!(body(&missing), "{\"error\":\"no such module\"}");
}

#[test]
fn log_lists_faults_and_the_page_shows_modules_and_faults_as_text() {
    let mut supervisor = FakeSupervisor::with_modules(&["uart16550", "<evil>"]);
    supervisor.faults.push(Fault {
        module: "faulty".into(),
        reason: "module faulty faulted in on_message: trap".into(),
        accesses: "port read 0x60\nport write 0x64".into(),
    });
    let log = answer(&Route::Log, &supervisor);
    assert_eq!(
        body(&log),
        "{\"faults\":[{\"time_ns\":1500000000,\"module\":\"faulty\",\"generation\":3,\
\"handling\":\"a message\",\"reason\":\"module faulty faulted in on_message: trap\",\
\"accesses\":[\"port read 0x60\",\"port write 0x64\"]}]}"
    );
    let page = answer(&Route::Page, &supervisor);
    assert!(head(&page).contains("Content-Type: text/html; charset=utf-8\r\n"));
    let html = body(&page);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<td>uart16550</td><td>1.0.0</td><td>1</td><td>running</td>"));
    assert!(html.contains("<td>&lt;evil&gt;</td>"));
    assert!(html.contains(
        "Up 12.345 s. Kernel heap: 2048 KiB used, 30720 KiB free. 2 of 2 modules running."
    ));
    assert!(html.contains("<pre>port read 0x60\nport write 0x64</pre>"));
    assert!(html.contains("No native processes."));
    assert!(html.trim_end().ends_with("</html>"));
}

#[test]
fn the_page_shows_the_latest_faults_only() {
    let mut supervisor = FakeSupervisor::with_modules(&["a"]);
    for index in 0..40 {
        supervisor.faults.push(Fault {
            module: format!("faulty{index}"),
            reason: "trap".into(),
            accesses: String::new(),
        });
    }
    let html = body(&answer(&Route::Page, &supervisor));
    assert!(!html.contains("<td>faulty23</td>"));
    for index in 24..40 {
        assert!(html.contains(&format!("<td>faulty{index}</td>")), "{index}");
    }
}

#[test]
fn a_supervisor_that_does_not_answer_gives_503_or_a_page_saying_so() {
    let mut supervisor = FakeSupervisor::with_modules(&["a"]);
    supervisor.failing = Some(cella_sdk::ErrorCode::TimedOut);
    let ps = answer(&Route::Ps, &supervisor);
    assert!(head(&ps).starts_with("HTTP/1.1 503 Service Unavailable"));
    assert!(body(&ps).starts_with("{\"error\":\"the call to the supervisor failed: "));
    let page = answer(&Route::Page, &supervisor);
    assert!(head(&page).starts_with("HTTP/1.1 200 OK"));
    assert!(body(&page).contains("The supervisor did not tell the status."));
    assert!(body(&page).contains("The supervisor did not answer: "));
}

#[test]
fn an_answer_past_the_body_bound_is_an_error_not_a_cut_body() {
    let mut body = Body::with_limit(4);
    let _ = body.push(b"12345");
    let answer = Answer::rendered(Status::Ok, ContentType::Json, body);
    assert!(head(&answer).starts_with("HTTP/1.1 500 Internal Server Error"));
}
