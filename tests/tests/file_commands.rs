//! The shell's file commands (`write`, `cat`, `ls`, `mkdir`, `rm`, `df`, modules/shell/src/
//! files.rs) on a copy of the FAT32 image: what they write the host finds after QEMU exits,
//! on a volume `fsck.vfat -n` finds clean; a path with `..` is refused with `bad path`; on an
//! image whose FAT `cargo cella disk corrupt-fat`'s code corrupted, `ls /` and `cat
//! /README.TXT` answer an error, the kernel does not panic and every module keeps running.

use cella::fs_image::corruption::corrupt_fat;
use cella_qemu_tests::{Disk, Session};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// Rounds of write, cat, ls and rm of one file.
const ROUNDS: usize = 12;

fn at_prompt_with(label: &str, disk: &Disk) -> Session {
    let session = Session::start_with_disk(label, "", None, &[], disk);
    let boot = session.wait_for_boot(WAIT);
    if boot.not_up.iter().any(|name| name == "fs") {
        session.fail("the fs module is not up");
    }
    session.wait_for("shell: ready", WAIT);
    session.wait_for("cella> ", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    session
}

/// The modules `ps` shows running.
fn running_modules(session: &mut Session) -> Vec<String> {
    let table = session.type_line("ps");
    let running: Vec<String> = table
        .lines()
        .filter(|line| line.split_whitespace().nth(3) == Some("running"))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    if !running.iter().any(|name| name == "fs") {
        session.fail(format!("`ps` shows no running fs:\n{table}"));
    }
    running
}

/// Fails unless `ps` shows every module of `before` still running.
fn expect_all_running(session: &mut Session, before: &[String]) {
    let after = running_modules(session);
    let stopped: Vec<&String> = before.iter().filter(|name| !after.contains(name)).collect();
    if !stopped.is_empty() {
        session.fail(format!("no longer running: {stopped:?}"));
    }
}

#[test]
fn shell_file_commands_on_the_fat32_image_leave_what_the_host_sees() {
    let label = "shell-files";
    let disk = Disk::file_system_for(label);
    let mut session = at_prompt_with(label, &disk);
    let running = running_modules(&mut session);
    let df = session.expect_answer("df", "disk: ");
    let figures: Vec<u64> = df
        .split(|character: char| !character.is_ascii_digit())
        .filter_map(|word| word.parse().ok())
        .collect();
    if figures.len() < 4 || figures[0] == 0 || figures[2] == 0 || figures[2] > figures[0] {
        session.fail(format!("df shows no sensible figures:\n{df}"));
    }
    for round in 0..ROUNDS {
        let text = format!("round {round} of the shell's file commands");
        session.expect_answer(
            &format!("write /NOTE.TXT {text}"),
            &format!("wrote {} bytes to /NOTE.TXT", text.len() + 1),
        );
        session.expect_answer("cat /NOTE.TXT", &text);
        session.expect_answer("ls /", "NOTE.TXT");
        session.expect_answer("rm /NOTE.TXT", "");
        session.expect_answer(
            "cat /NOTE.TXT",
            "error: cat /NOTE.TXT: no such file or directory",
        );
    }
    let listing = session.type_line("ls /");
    if listing.contains("NOTE.TXT") {
        session.fail(format!("/NOTE.TXT is still listed:\n{listing}"));
    }
    session.expect_answer("mkdir /SHELL", "");
    session.expect_answer("mkdir /SHELL", "error: mkdir /SHELL: it exists already");
    session.expect_answer(
        "write /SHELL/KEPT.TXT kept by the shell",
        "wrote 18 bytes to /SHELL/KEPT.TXT",
    );
    session.expect_answer("ls /SHELL", "18  KEPT.TXT");
    session.expect_answer("ls /", "<dir>  SHELL/");
    session.expect_answer("rm /SHELL", "error: rm /SHELL: the directory is not empty");
    session.expect_answer("cat /../README.TXT", "error: cat /../README.TXT: bad path");
    session.expect_answer("ls /SHELL/..", "error: ls /SHELL/..: bad path");
    session.expect_answer(
        "write /SHELL/../ESCAPE.TXT out",
        "error: write /SHELL/../ESCAPE.TXT: bad path",
    );
    session.expect_answer("df", "disk: ");
    expect_all_running(&mut session, &running);
    drop(session);

    let verdict = disk.check_file_system();
    assert!(
        verdict.clean,
        "fsck.vfat -n after the shell's commands:\n{}",
        verdict.report
    );
    assert_eq!(
        disk.read_file("SHELL/KEPT.TXT").as_deref(),
        Ok(&b"kept by the shell\n"[..])
    );
    let root = disk.list_directory("/").expect("mdir of /");
    assert!(!root.contains("NOTE"), "the removed file is gone:\n{root}");
    assert!(!root.contains("ESCAPE"), "nothing escaped:\n{root}");
    assert!(disk.read_file("NOTE.TXT").is_err());
}

#[test]
fn shell_file_commands_on_a_corrupt_fat_answer_errors_and_the_kernel_keeps_running() {
    let label = "shell-corrupt-fat";
    let disk = Disk::file_system_for(label);
    let corruption = corrupt_fat(disk.path()).expect("the corrupt FAT written");
    assert_eq!(
        corruption.changes.len(),
        2,
        "a looping root and a bad README chain"
    );
    for line in corruption.describe() {
        println!("{line}");
    }
    assert!(!disk.check_file_system().clean, "fsck sees the corruption");
    let mut session = at_prompt_with(label, &disk);
    let running = running_modules(&mut session);
    // The root directory's entries end inside its first cluster and README.TXT fits one
    // cluster, so neither needs the corrupt entries: each answers its data or an error.
    let root = session.type_line("ls /");
    if !root.contains("README.TXT") && !root.contains("error: ls /: ") {
        session.fail(format!("`ls /` on a corrupt FAT showed:\n{root}"));
    }
    let readme = session.type_line("cat /README.TXT");
    if !readme.contains("Cella's file-system disk") && !readme.contains("error: cat /README.TXT: ")
    {
        session.fail(format!(
            "`cat /README.TXT` on a corrupt FAT showed:\n{readme}"
        ));
    }
    // Directories of 190-character names take 16 entries each: the third passes the root's
    // first cluster, whose chain loops. The server answers `the file system is corrupt`, or
    // it runs out of fuel following the loop and faults (the shell's call ends `Closed`).
    let mut refused = 0;
    for letter in ['A', 'B', 'C'] {
        let name: String = std::iter::repeat_n(letter, 190).collect();
        let line = format!("mkdir /{name}");
        let answer = session.type_line(&line);
        if answer.contains(&format!("error: mkdir /{name}: the file system is corrupt"))
            || answer.contains("error: mkdir: the file server is not running")
        {
            refused += 1;
        } else if answer.contains("error") {
            session.fail(format!("`{line}` on a corrupt FAT showed:\n{answer}"));
        }
    }
    if refused == 0 {
        session.fail("no directory made in the looping root was refused");
    }
    if session.output().contains("module fs faulted") {
        session.wait_for("supervisor: fs restarted", WAIT);
    }
    session.expect_answer("df", "disk: ");
    expect_all_running(&mut session, &running);
    let output = session.output();
    assert!(!output.contains("PANIC"), "the kernel panicked:\n{output}");
    if output.contains("module fs faulted") {
        // The fault record says what the server was doing.
        let explained = session.expect_answer("explain fs", "fs generation 7");
        if !explained.contains("fuel") && !explained.contains("trap") {
            session.fail(format!("`explain fs` names no cause:\n{explained}"));
        }
        session.expect_answer("log", "it was handling: a message of");
    }
}
