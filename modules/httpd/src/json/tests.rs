use super::*;

fn rendered(write: impl FnOnce(&mut String) -> Result) -> String {
    let mut out = String::new();
    write(&mut out).unwrap();
    out
}

#[test]
fn strings_escape_quotes_backslashes_and_control_characters() {
    let odd = "a\"b\\c\nd\re\tf\u{1}g\u{1f}h\u{7f}é😀</script>";
    let text = rendered(|out| string(out, odd));
    assert_eq!(
        text,
        "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh\u{7f}é😀</script>\""
    );
    assert_eq!(rendered(|out| string(out, "")), "\"\"");
}

#[test]
fn a_module_with_an_odd_name_is_one_json_object() {
    let row = ModuleRow {
        name: "we\"ird\\name\n",
        version: "1.0.0",
        generation: 4,
        state: "running",
        restarts: 2,
        events: 99,
        fuel: 12345,
        memory_kib: 320,
        log_lines_dropped: 1,
        warnings_dropped: 0,
        lines_held_back: 0,
    };
    let text = rendered(|out| module(out, &row));
    assert_eq!(
        text,
        "{\"name\":\"we\\\"ird\\\\name\\n\",\"version\":\"1.0.0\",\"generation\":4,\
\"state\":\"running\",\"restarts\":2,\"events\":99,\"fuel\":12345,\"memory_kib\":320,\
\"log_lines_dropped\":1}"
    );
}

#[test]
fn a_fault_lists_its_accesses_one_string_a_line() {
    let row = FaultRow {
        time_ns: 5,
        module: "faulty",
        generation: 2,
        handling: "",
        reason: "module faulty faulted in on_message: trap \"unreachable\"",
        accesses: "port read 0x60\nport write 0x64 = 0xff",
    };
    let text = rendered(|out| fault(out, &row));
    assert_eq!(
        text,
        "{\"time_ns\":5,\"module\":\"faulty\",\"generation\":2,\"handling\":\"\",\
\"reason\":\"module faulty faulted in on_message: trap \\\"unreachable\\\"\",\
\"accesses\":[\"port read 0x60\",\"port write 0x64 = 0xff\"]}"
    );
    let none = FaultRow {
        accesses: "",
        ..row
    };
    assert!(rendered(|out| fault(out, &none)).ends_with("\"accesses\":[]}"));
}

#[test]
fn an_error_is_an_object_with_its_text() {
    assert_eq!(
        rendered(|out| error(out, "no \"such\" module")),
        "{\"error\":\"no \\\"such\\\" module\"}"
    );
}
