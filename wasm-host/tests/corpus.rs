//! The engine's fuzz target: random modules from wasm-smith (shaped to
//! import ABI v1 and export Cella's entry points) and mutants of valid modules
//! (byte mutations, and instruction mutations re-encoded with wasm-encoder)
//! of every built module and of the generated ones, each through load (by
//! the runtime or the hot-swap preparer), start, every kind of event, save
//! and hot swaps in both directions, on the host with `SimulatedPlatform`.
//! Zero panics and zero hangs: every input ends in a typed `LoadError`,
//! `Fault` or `SwapError`, or runs.
//!
//! `CELLA_FUZZ_INPUTS` sets the number of inputs (default 3000, over two
//! shards; the long run in docs/reliability.md uses 1,000,000).
//! `CELLA_FUZZ_SEED` changes the seed; `CELLA_FUZZ_HANG_SECONDS` (default
//! 60) is how long one input may take before the run stops as hung, keeping
//! the input in `<target>/fuzz-hang-<shard>.wasm`; `CELLA_FUZZ_VERBOSE=1`
//! prints every load error; `CELLA_FUZZ_DUMP=DIR` keeps the input under test
//! in DIR. Built modules come from `CELLA_WASM_DIR` (set
//! by `cargo cella test`) or the target directory.

mod common;
#[path = "corpus/mutate.rs"]
mod mutate;
#[path = "corpus/run.rs"]
mod run;
#[path = "corpus/seeds.rs"]
mod seeds;

use arbitrary::Unstructured;
use cella_wasm_host::{Limits, LoadedModule, Runtime};
use mutate::Random;
use run::Setting;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SHARDS: usize = 2;
const COUNTER_V1: &str = include_str!("modules/counter_v1.wat");

fn imports_module() -> Vec<u8> {
    let mut text = String::from("(module\n");
    for (name, signature, _) in common::PROBE_OPS {
        text.push_str(&format!(
            "(import \"cella\" \"{name}\" (func {signature}))\n"
        ));
    }
    text.push(')');
    wat::parse_str(text).unwrap()
}

fn exports_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (func (export "init") (result i32) unreachable)
            (func (export "on_irq") (param i32) unreachable)
            (func (export "on_message") (param i32 i32) unreachable)
            (func (export "on_timer") (param i32) unreachable)
            (func (export "save_state") (result i64) unreachable)
            (memory (export "memory") 1 20))"#,
    )
    .unwrap()
}

fn smith_config(shaped: bool, disallow_traps: bool) -> wasm_smith::Config {
    let mut config = wasm_smith::Config {
        available_imports: Some(imports_module()),
        exports: shaped.then(exports_module),
        allow_start_export: false,
        compact_imports_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        memory64_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        // Shaped modules get exactly the exported memory.
        max_memories: usize::from(!shaped),
        disallow_traps,
        max_tables: 1,
        max_table_elements: 1100,
        max_memory32_bytes: 18 * 65536,
        max_funcs: 20,
        max_instructions: 200,
        ..wasm_smith::Config::default()
    };
    config.min_funcs = 1;
    config
}

/// Appends a `cella.manifest` custom section.
fn with_manifest(mut wasm: Vec<u8>) -> Vec<u8> {
    let name = b"cella.manifest";
    let manifest = format!(
        "cella 1\nname fuzz\nversion 1\nstate 1\n{}",
        common::CAPABILITIES
    );
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(manifest.as_bytes());
    wasm.push(0);
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            wasm.push(byte);
            break;
        }
        wasm.push(byte | 0x80);
    }
    wasm.extend_from_slice(&payload);
    wasm
}

#[derive(Default)]
struct Tally {
    smith: u64,
    mutants: u64,
    seeds: usize,
    slowest: Duration,
    /// Resident memory of the process (KiB) when the shard started and ended.
    resident: (u64, u64),
    outcomes: BTreeMap<String, u64>,
}

impl Tally {
    fn count(&mut self, outcome: String) {
        *self.outcomes.entry(outcome).or_default() += 1;
    }
}

/// Per shard: milliseconds since `EPOCH` at the last finished input, whether
/// the shard is running, and the input under test.
static PROGRESS: [AtomicU64; SHARDS] = [AtomicU64::new(0), AtomicU64::new(0)];
static RUNNING: [AtomicBool; SHARDS] = [AtomicBool::new(false), AtomicBool::new(false)];
static CURRENT: [Mutex<Vec<u8>>; SHARDS] = [Mutex::new(Vec::new()), Mutex::new(Vec::new())];
static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Stops the whole run if a shard makes no progress for the hang limit: a
/// hang inside the engine cannot be interrupted any other way.
fn start_watchdog() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let limit: u64 = std::env::var("CELLA_FUZZ_HANG_SECONDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(60);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                for shard in 0..SHARDS {
                    let idle = now_ms().saturating_sub(PROGRESS[shard].load(Ordering::Relaxed));
                    if RUNNING[shard].load(Ordering::Relaxed) && idle > limit * 1000 {
                        let input = CURRENT[shard].lock().map(|x| x.clone()).unwrap_or_default();
                        let path = std::env::temp_dir().join(format!("fuzz-hang-{shard}.wasm"));
                        let _ = std::fs::write(&path, input);
                        eprintln!(
                            "corpus shard {shard}: one input ran for over {limit} s (a hang); it is in {}",
                            path.display()
                        );
                        std::process::exit(101);
                    }
                }
            }
        });
    });
}

/// Keeps the input under test for the watchdog, and on disk in
/// `CELLA_FUZZ_DUMP=DIR` (as `DIR/current-<shard>.wasm`) when that is set, so
/// the culprit of a crash that stops the process is there afterwards.
fn keep(shard: u64, wasm: &[u8]) {
    *CURRENT[shard as usize].lock().unwrap() = wasm.to_vec();
    if let Some(directory) = std::env::var_os("CELLA_FUZZ_DUMP") {
        let path = std::path::Path::new(&directory).join(format!("current-{shard}.wasm"));
        std::fs::write(path, wasm).expect("dump the input");
    }
}

fn setting<'a>(
    grant: &'a cella_wasm_host::Grant,
    platform: &'a dyn Fn() -> cella_wasm_host::SimulatedPlatform,
    partner: &'a LoadedModule,
    index: u64,
) -> Setting<'a> {
    Setting {
        grant,
        platform,
        partner,
        through_preparer: index % 2 == 1,
    }
}

/// A runtime with the partner modules loaded. wasmi keeps every function
/// it ever compiled until its engine is dropped, so the run takes a fresh
/// runtime every `INPUTS_PER_RUNTIME` inputs to keep its memory bounded.
struct Engine {
    runtime: run::Host,
    counter: LoadedModule,
    /// Each built module, unmutated.
    originals: Vec<LoadedModule>,
}

const INPUTS_PER_RUNTIME: u64 = 2000;

impl Engine {
    fn new(
        limits: Limits,
        built: &[seeds::Seed],
        grant: &cella_wasm_host::Grant,
        report: bool,
    ) -> Engine {
        let mut runtime: run::Host = Runtime::new(limits);
        let counter = wat::parse_str(COUNTER_V1).unwrap();
        let counter = runtime.load("counter", &counter, grant).unwrap();
        // Every built module loads unmutated; its mutants are swapped to and
        // from it.
        let mut originals = Vec::new();
        for seed in built {
            let module = runtime
                .load(&seed.name, &seed.wasm, &seed.grant)
                .unwrap_or_else(|error| panic!("built module {}: {error}", seed.name));
            let started = runtime.start(
                &module,
                seed.platform(),
                cella_wasm_host::QueueOutbox::new(8),
            );
            if report {
                match started {
                    Ok(_) => println!("built module {}: loads and starts", seed.name),
                    // Some need real hardware answers (the simulated registers read 0).
                    Err(fault) => println!(
                        "built module {}: loads; init on blank registers: {fault}",
                        seed.name
                    ),
                }
            }
            originals.push(module);
        }
        Engine {
            runtime,
            counter,
            originals,
        }
    }
}

/// Resident memory of the process in KiB, from /proc/self/statm.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

fn corpus(shard: u64) -> Tally {
    PROGRESS[shard as usize].store(now_ms(), Ordering::Relaxed);
    RUNNING[shard as usize].store(true, Ordering::Relaxed);
    start_watchdog();
    let shards = SHARDS as u64;
    let total: u64 = std::env::var("CELLA_FUZZ_INPUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("CELLA_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x00ce_11a0);
    let limits = Limits {
        fuel_per_event: 100_000,
        ..Limits::default()
    };
    let configs = [
        smith_config(true, false),
        smith_config(true, true),
        smith_config(false, false),
    ];
    let common_grant = common::grant();
    let common_platform = common::platform;
    let built = seeds::built();
    let mut engine = Engine::new(limits, &built, &common_grant, shard == 0);
    let mut tally = Tally {
        resident: (resident_kib(), 0),
        seeds: built.len(),
        ..Tally::default()
    };
    let mut random = Random(seed ^ (shard + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut index = shard;
    let mut last_valid: Option<Vec<u8>> = None;
    while index < total {
        let inputs = tally.smith + tally.mutants;
        if inputs > 0 && inputs.is_multiple_of(INPUTS_PER_RUNTIME) {
            engine = Engine::new(limits, &built, &common_grant, false);
        }
        let started = Instant::now();
        let kind = index % 8;
        let from_built = !built.is_empty() && (last_valid.is_none() || random.below(2) == 0);
        if kind < 4 || (!from_built && last_valid.is_none()) {
            // Short inputs make small modules; wasm-smith pads with zeros, so
            // many `init`s return 0 and the events really run. Three in four
            // are shaped like Cella modules (one of those three generated
            // without trapping instructions).
            let mut data = vec![0u8; 32 + random.below(1500) as usize];
            data.iter_mut().for_each(|byte| *byte = random.next() as u8);
            let config = &configs[[0, 1, 0, 2][(tally.smith % 4) as usize]];
            let Ok(module) = wasm_smith::Module::new(config.clone(), &mut Unstructured::new(&data))
            else {
                continue;
            };
            let mut wasm = module.to_bytes();
            if tally.smith % 16 != 15 {
                wasm = with_manifest(wasm);
            }
            keep(shard, &wasm);
            let setting = setting(&common_grant, &common_platform, &engine.counter, index);
            let outcome = run::run(&mut engine.runtime, &wasm, &setting);
            if outcome.starts_with("ran") || outcome.starts_with("fault") {
                last_valid = Some(wasm);
            }
            tally.count(format!("smith  {outcome}"));
            tally.smith += 1;
        } else {
            let instruction_level = kind >= 6;
            let (label, wasm, grant, platform, partner): (_, _, _, Box<dyn Fn() -> _>, _) =
                if from_built {
                    let which = random.below(built.len() as u64) as usize;
                    let seed = &built[which];
                    (
                        "built",
                        seed.wasm.clone(),
                        &seed.grant,
                        Box::new(move || seed.platform()),
                        &engine.originals[which],
                    )
                } else {
                    (
                        "smith",
                        last_valid.clone().unwrap_or_default(),
                        &common_grant,
                        Box::new(common::platform),
                        &engine.counter,
                    )
                };
            let mutant = if instruction_level {
                mutate::instruction(&mut random, &wasm)
                    .unwrap_or_else(|| mutate::bytes(&mut random, &wasm))
            } else {
                mutate::bytes(&mut random, &wasm)
            };
            keep(shard, &mutant);
            let setting = setting(grant, &*platform, partner, index);
            let outcome = run::run(&mut engine.runtime, &mutant, &setting);
            let how = if instruction_level {
                "instruction"
            } else {
                "byte"
            };
            tally.count(format!("mutant {label} {how}: {outcome}"));
            tally.mutants += 1;
        }
        tally.slowest = tally.slowest.max(started.elapsed());
        PROGRESS[shard as usize].store(now_ms(), Ordering::Relaxed);
        index += shards;
    }
    RUNNING[shard as usize].store(false, Ordering::Relaxed);
    tally.resident.1 = resident_kib();
    tally
}

fn check(tally: &Tally, shard: u64, elapsed: Duration) {
    let mut report = format!(
        "corpus shard {shard}: {} inputs ({} wasm-smith modules, {} mutants of them and of {} built modules) in {:.1} s, slowest input {} ms, 0 panics, 0 hangs; process resident {} MiB at the start, {} MiB at the end\n",
        tally.smith + tally.mutants,
        tally.smith,
        tally.mutants,
        tally.seeds,
        elapsed.as_secs_f64(),
        tally.slowest.as_millis(),
        tally.resident.0 / 1024,
        tally.resident.1 / 1024,
    );
    let mut grouped: BTreeMap<String, u64> = BTreeMap::new();
    for (outcome, count) in &tally.outcomes {
        let short = outcome.split(';').next().unwrap_or(outcome).to_string();
        *grouped.entry(short).or_default() += count;
    }
    for (outcome, count) in &grouped {
        report.push_str(&format!("  {count:7}  {outcome}\n"));
    }
    let swaps = |needle: &str| -> u64 {
        tally
            .outcomes
            .iter()
            .filter(|(outcome, _)| outcome.contains(needle))
            .map(|(_, count)| count)
            .sum()
    };
    report.push_str(&format!(
        "  swaps in: {} ok, {} refused; back out after a swap in: {} ok; swaps out of a running input: {} ok, {} refused\n",
        swaps("swap in ok"),
        swaps("swap in refused"),
        swaps(", back ok"),
        swaps("swap out ok"),
        swaps("swap out refused"),
    ));
    println!("{report}");
    let sum = |prefixes: &[&str]| -> u64 {
        tally
            .outcomes
            .iter()
            .filter(|(outcome, _)| prefixes.iter().any(|prefix| outcome.starts_with(prefix)))
            .map(|(_, count)| count)
            .sum()
    };
    // The corpus is only meaningful if modules really run: most execute guest
    // code, a fair share get through `init` to the events, and some mutants
    // of built modules run too.
    let executed = sum(&[
        "smith  ran",
        "smith  fault in event",
        "smith  fault in init",
    ]) - sum(&["smith  fault in init: Instantiation"]);
    let through_init = sum(&["smith  ran", "smith  fault in event"]);
    assert!(
        executed * 2 >= tally.smith,
        "too few modules executed:\n{report}"
    );
    assert!(
        through_init * 20 >= tally.smith,
        "too few modules got past init:\n{report}"
    );
    assert!(swaps("swap in ok") > 0, "no swap in succeeded:\n{report}");
    if tally.seeds > 0 && tally.mutants >= 200 {
        assert!(
            sum(&["mutant built byte: ran", "mutant built instruction: ran"]) > 0,
            "no mutant of a built module ran:\n{report}"
        );
    }
}

fn shard(shard: u64) {
    let started = Instant::now();
    let tally = corpus(shard);
    check(&tally, shard, started.elapsed());
}

#[test]
fn random_modules_shard_0() {
    shard(0);
}

#[test]
fn random_modules_shard_1() {
    shard(1);
}
