use super::*;

#[test]
fn text_escapes_markup_and_quotes() {
    let mut out = String::new();
    text(&mut out, "<script>alert('x & \"y\"')</script>").unwrap();
    assert_eq!(
        out,
        "&lt;script&gt;alert(&#39;x &amp; &quot;y&quot;&#39;)&lt;/script&gt;"
    );
}

#[test]
fn a_module_row_with_markup_in_its_name_stays_text() {
    let row = ModuleRow {
        name: "<b>bold</b>",
        version: "1.0.0",
        generation: 1,
        state: "running",
        restarts: 0,
        events: 3,
        fuel: 4,
        memory_kib: 320,
        log_lines_dropped: 0,
        warnings_dropped: 0,
        lines_held_back: 0,
    };
    let mut out = String::new();
    module(&mut out, &row).unwrap();
    assert!(
        out.starts_with("<tr><td>&lt;b&gt;bold&lt;/b&gt;</td><td>1.0.0</td>"),
        "{out}"
    );
    assert!(!out.contains("<b>"));
}

#[test]
fn the_script_fills_every_table_the_page_has() {
    // The ids the script fills are the ids the tables are rendered with.
    for id in ["modules", "processes", "faults", "status"] {
        assert!(SCRIPT.contains(&format!("\"{id}\"")), "{id}");
    }
    let mut out = String::new();
    modules_start(&mut out).unwrap();
    processes_start(&mut out).unwrap();
    faults_start(&mut out).unwrap();
    start(&mut out, None).unwrap();
    for id in ["modules", "processes", "faults", "status"] {
        assert!(out.contains(&format!("id=\"{id}\"")), "{id}");
    }
    // The script never writes markup from the answers.
    assert!(!SCRIPT.contains("innerHTML"));
}
