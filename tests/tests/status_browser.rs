//! The status page in a real browser: headless Chromium loads `/` from the guest's `httpd`
//! through the forwarded port, with script and without. Both renderings name every module
//! `ps` lists and are not an error page; with script, the page's refresh ran at least once
//! (it counts its refreshes in `data-refreshed`) and did not report a failed fetch. The
//! screenshot is a PNG whose text, read by `tesseract`, names several modules.
//!
//! `cargo cella test` installs Debian's `chromium` and `tesseract-ocr` when it runs as root
//! (toolchain/src/browser_tools.rs); without them this test prints why it is skipped.

use cella::qemu::{Network, free_host_port};
use cella::shell::find_program;
use cella_qemu_tests::Session;
use cella_qemu_tests::process::{Exit, run_with_deadline};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);
const BROWSER_DEADLINE: Duration = Duration::from_secs(120);
/// How much virtual time a scripted page gets before Chromium dumps or shoots it.
const VIRTUAL_TIME: &str = "--virtual-time-budget=5000";

/// `ps`'s module names.
fn ps_names(ps: &str) -> Vec<String> {
    ps.lines()
        .skip_while(|line| !line.starts_with("NAME"))
        .skip(1)
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            words.get(2)?.parse::<u32>().ok()?;
            Some(words[0].to_owned())
        })
        .collect()
}

/// Runs `command` to its end; its standard output, or the test fails saying `what` failed.
fn output_of(session: &Session, what: &str, command: Command) -> String {
    match run_with_deadline(command, BROWSER_DEADLINE, None) {
        Ok(run) if run.exit == Exit::Status(0) => String::from_utf8_lossy(&run.stdout).into_owned(),
        Ok(run) => session.fail(format!(
            "{what} did not succeed ({}):\n{}",
            match run.exit {
                Exit::Status(status) => format!("exit status {status}"),
                Exit::Signal(signal) => format!("signal {signal}"),
                Exit::TimedOut => format!("no end within {} s", BROWSER_DEADLINE.as_secs()),
                Exit::MarkerSeen => String::from("stopped"),
            },
            String::from_utf8_lossy(&run.stderr)
        )),
        Err(error) => session.fail(format!("{what} did not start: {error}")),
    }
}

/// A fresh Chromium profile in `directory`: with script, or with script blocked for every
/// site (the content setting a person sets in the browser; `--blink-settings` would stop
/// headless Chromium's own dump and screenshot as well).
fn profile(directory: &Path, script: bool) -> PathBuf {
    let profile = directory.join(if script {
        "profile-script"
    } else {
        "profile-no-script"
    });
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(profile.join("Default")).expect("a profile directory");
    let setting = if script { 1 } else { 2 };
    std::fs::write(
        profile.join("Default").join("Preferences"),
        format!(
            "{{\"profile\":{{\"default_content_setting_values\":{{\"javascript\":{setting}}}}}}}"
        ),
    )
    .expect("a profile's preferences");
    profile
}

/// Runs headless Chromium on `url` with `profile` and `arguments`; its standard output.
fn chromium(
    session: &Session,
    program: &Path,
    profile: &Path,
    url: &str,
    arguments: &[&str],
) -> String {
    let mut command = Command::new(program);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1280,1000",
    ]);
    command.args(arguments).arg(url);
    output_of(
        session,
        &format!("chromium {}", arguments.join(" ")),
        command,
    )
}

/// Fails unless `dom` is the status page naming every module of `names`.
fn check_dom(session: &Session, what: &str, dom: &str, names: &[String]) {
    if !dom.contains("<h1>Cella status</h1>") || dom.contains("ERR_") {
        session.fail(format!("{what}: not the status page:\n{dom}"));
    }
    for name in names {
        if !dom.contains(&format!("<td>{name}</td>")) {
            session.fail(format!("{what}: module {name} is not on the page:\n{dom}"));
        }
    }
}

#[test]
fn the_status_page_renders_in_a_browser_with_and_without_script() {
    let Some(browser) = find_program("chromium") else {
        println!(
            "skipped: chromium is not installed (`cargo cella test` installs Debian's chromium \
             when run as root; otherwise `sudo apt-get install -y chromium tesseract-ocr`)"
        );
        return;
    };
    let port = free_host_port(0).expect("a free port");
    let network = Network {
        host_port: Some(port),
        ..Network::default()
    };
    let mut session = Session::at_prompt_on_network("status-browser", network);
    session.wait_for("httpd: serving the status page on TCP port 80", WAIT);
    let names = ps_names(&session.type_line("ps"));
    if names.len() < 4 {
        session.fail(format!("`ps` lists too few modules: {}", names.join(", ")));
    }
    let url = format!("http://127.0.0.1:{port}/");

    let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-browser");
    let without_script = profile(&directory, false);
    let with_script = profile(&directory, true);

    // No virtual time without script: the page's meta refresh would reload it for ever.
    let plain = chromium(&session, &browser, &without_script, &url, &["--dump-dom"]);
    check_dom(&session, "without script", &plain, &names);
    if plain.contains("data-refreshed") {
        session.fail("without script, the page says it refreshed");
    }

    // 5 s of virtual time: the script's refresh every 2 s runs twice.
    let scripted = chromium(
        &session,
        &browser,
        &with_script,
        &url,
        &[VIRTUAL_TIME, "--dump-dom"],
    );
    check_dom(&session, "with script", &scripted, &names);
    // The status line says so when a fetch failed (the script's own text says it too).
    if !scripted.contains("data-refreshed=\"")
        || !scripted.contains("<p id=\"status\">Up ")
        || scripted.contains("<p id=\"status\">The status could not be fetched")
    {
        session.fail(format!(
            "with script, the page did not refresh from /api:\n{scripted}"
        ));
    }

    let screenshot = directory.join("status-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let argument = format!("--screenshot={}", screenshot.display());
    chromium(
        &session,
        &browser,
        &with_script,
        &url,
        &[VIRTUAL_TIME, &argument],
    );
    let png = std::fs::read(&screenshot).unwrap_or_else(|error| {
        session.fail(format!(
            "no screenshot at {}: {error}",
            screenshot.display()
        ))
    });
    if !png.starts_with(b"\x89PNG\r\n\x1a\n") || png.len() < 10_000 {
        session.fail(format!(
            "the screenshot is not a page's PNG ({} bytes)",
            png.len()
        ));
    }
    println!("screenshot: {} ({} bytes)", screenshot.display(), png.len());

    let Some(tesseract) = find_program("tesseract") else {
        println!("OCR skipped: tesseract is not installed (Debian's tesseract-ocr)");
        return;
    };
    let mut command = Command::new(tesseract);
    command.arg(&screenshot).arg("stdout");
    let text = output_of(&session, "tesseract", command);
    let read: Vec<&String> = names
        .iter()
        .filter(|name| text.contains(name.as_str()))
        .collect();
    println!(
        "OCR read {} of {} module names: {}",
        read.len(),
        names.len(),
        read.iter()
            .map(|name| name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if read.len() < 4 || !text.contains("Cella status") {
        session.fail(format!(
            "the screenshot's text names too few modules:\n{text}"
        ));
    }
}
