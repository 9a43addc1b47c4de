//! Faults and hot swaps on the storage data path: the `block_faults` scenario swaps the
//! virtio-blk driver v1 -> v2 -> v1 and faults it, each while `block-workload` has requests in
//! flight, and writes garbage into the driver's used ring, which makes the driver fault itself;
//! the workload asks again whatever failed, half its stripes in DMA buffers it lends the
//! driver with each call. After QEMU exits, every sector the workload wrote
//! holds its last round's pattern: none lost, duplicated or corrupted.

// The workload's sector pattern and report (tests/fixtures/block-workload).
#[allow(dead_code)]
#[path = "../fixtures/block-workload/src/pattern.rs"]
mod pattern;

use cella_qemu_tests::{BootRequest, Disk, boot};
use pattern::{Found, LEAST_ROUNDS, STRIPE_SECTORS, STRIPES, classify};

/// The number after `key` in `line`, up to the next space or comma.
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest.find([' ', ',']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn swaps_and_faults_under_a_checksummed_workload_lose_nothing() {
    let disk = Disk::copy_for("block-faults");
    let run = boot(BootRequest::scenario("block_faults").with_disk(&disk));
    run.expect_kernel_success();
    run.expect_line("scenario block_faults: passed");
    let summary = run.expect_line("block_faults: rounds ").to_owned();
    println!("{summary}");
    for line in run.lines().filter(|line| {
        line.contains("block_faults: cycle")
            || line.contains("block_faults: garbage")
            || line.contains("block_faults: kernel heap")
            || line.contains("virtio-blk: version")
    }) {
        println!("{line}");
    }
    let took_over_busy: Vec<u64> = run
        .lines()
        .filter(|line| line.contains("virtio-blk: version"))
        .filter_map(|line| number_after(line, "requests in flight: "))
        .collect();
    let swaps = number_after(&summary, "swaps ").unwrap_or(0);
    assert_eq!(
        took_over_busy.len() as u64,
        swaps,
        "one line per swap: {took_over_busy:?}"
    );
    assert!(
        took_over_busy.iter().filter(|&&count| count > 0).count() >= 3,
        "a swap with requests in flight in each cycle: {took_over_busy:?}"
    );
    let blocked: Vec<&str> = run
        .lines()
        .filter(|line| line.contains("DMA") && line.contains("blocked"))
        .collect();
    println!(
        "swaps landed with {} requests in flight in all, answered busy; DMA the IOMMU blocked: {}",
        took_over_busy.iter().sum::<u64>(),
        blocked.len()
    );
    for line in &blocked {
        println!("{line}");
    }
    assert!(
        blocked.is_empty(),
        "no DMA of a faulted instance reaches the IOMMU"
    );

    let get = |key: &str| {
        number_after(&summary, key)
            .unwrap_or_else(|| run.fail(format!("no `{key}` in `{summary}`")))
    };
    let rounds = get("rounds ");
    assert!(rounds >= u64::from(LEAST_ROUNDS), "{rounds} rounds");
    assert!(get("swaps ") >= 6, "two swaps a cycle at least");
    assert_eq!(get("faults "), 3);
    assert_eq!(get("garbage faults "), 2);
    let garbage: Vec<&str> = run
        .lines()
        .filter(|line| line.contains("block_faults: garbage "))
        .collect();
    assert_eq!(garbage.len(), 2, "{garbage:?}");
    for line in garbage {
        assert!(
            line.contains("module virtio-blk faulted in on_"),
            "the driver itself faulted in an event: {line}"
        );
    }
    assert_eq!(
        run.lines()
            .filter(|line| line.contains("the device wrote garbage into its used ring"))
            .count(),
        2,
        "the driver says why it ends"
    );
    assert_eq!(
        get("fault records "),
        5,
        "three injected, two on garbage, no other"
    );
    assert_eq!(get("mismatched sectors "), 0);
    // Half the stripes travel in lent buffers: four writes and four reads a round.
    assert!(
        get("lent requests ") >= rounds * 8,
        "every round's odd stripes go in lent buffers"
    );
    let first = get("from sector ");
    let sectors = get("area ");
    assert_eq!(sectors, (STRIPES * STRIPE_SECTORS) as u64);
    drop(run);

    let last_round = rounds as u32 - 1;
    let (mut expected, mut lost, mut duplicated, mut corrupted) = (0, 0, 0, 0);
    for sector in first..first + sectors {
        match classify(&disk.read_block(sector), sector, last_round) {
            Found::Expected => expected += 1,
            Found::Earlier(_) => lost += 1,
            Found::OtherSector(_) => duplicated += 1,
            Found::Corrupted => corrupted += 1,
        }
    }
    println!(
        "disk image: {sectors} sectors checked from sector {first}: {expected} hold round {last_round}, {lost} lost, {duplicated} duplicated, {corrupted} corrupted"
    );
    assert_eq!((lost, duplicated, corrupted), (0, 0, 0));
    assert_eq!(expected, sectors);
}

#[test]
fn the_pattern_tells_lost_duplicated_and_corrupted_sectors_apart() {
    let sector = pattern::sector_bytes(500, 7);
    assert_eq!(classify(&sector, 500, 7), Found::Expected);
    assert_eq!(
        classify(&pattern::sector_bytes(500, 6), 500, 7),
        Found::Earlier(6)
    );
    assert_eq!(
        classify(&pattern::sector_bytes(501, 7), 500, 7),
        Found::OtherSector(501)
    );
    let mut flipped = sector;
    flipped[100] ^= 1;
    assert_eq!(classify(&flipped, 500, 7), Found::Corrupted);
    assert_eq!(classify(&[0u8; 512], 500, 7), Found::Corrupted);
}
