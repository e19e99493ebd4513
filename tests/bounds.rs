//! Inputs without a sensible upper bound, and output folders with more than one writer: each is
//! exit 2 with a message naming the bound, quickly, and leaves nothing behind.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `peergrid ARGS` in `dir` and asserts exit 2 with every one of `expect` in stderr, and
/// that `dir` holds no `out` folder afterwards.
fn refused(dir: &Path, args: &[&str], expect: &[&str]) {
    let started = Instant::now();
    let o = peergrid_in(dir, args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for e in expect {
        assert!(err.contains(e), "{args:?}: expected `{e}` in: {err}");
    }
    assert!(!dir.join("out").exists(), "{args:?} wrote output");
    assert!(started.elapsed() < Duration::from_secs(60), "{args:?} took {:?}", started.elapsed());
}

fn street_with(dir: &Path, name: &str, edit: impl Fn(String) -> String) -> String {
    let text = edit(std::fs::read_to_string(scenario("street.ron")).unwrap());
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

#[test]
fn endless_and_huge_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = street_with(tmp.path(), "zero.ron", |t| t.replace("load: Archetype(kind: Family)", "load: Profile(file: \"/dev/zero\")"));
    refused(tmp.path(), &["run", &s, "--out", "out"], &["/dev/zero", "larger than 512 MiB"]);
    refused(tmp.path(), &["run", "/dev/zero", "--out", "out"], &["/dev/zero", "larger than 64 MiB"]);
    std::fs::write(tmp.path().join("long.csv"), format!("household,step,load_kwh,pv_kwh\n{}\n", "1".repeat(2 << 20))).unwrap();
    let s = street_with(tmp.path(), "long.ron", |t| t.replace("load: Archetype(kind: Family)", "load: Profile(file: \"long.csv\")"));
    refused(tmp.path(), &["run", &s, "--out", "out"], &["long.csv:2:", "longer than 1024 KiB"]);
    std::fs::write(tmp.path().join("zero.sweep.ron"), "").unwrap();
    refused(tmp.path(), &["sweep", "/dev/zero", "--out", "out"], &["larger than 64 MiB"]);
}

#[test]
fn long_ids_many_households_and_deep_values_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let street = scenario("street.ron");
    let street = street.to_str().unwrap();
    // A 400 KB prefix (longer than one command-line argument may be) for 10,000 houses.
    let long = street_with(tmp.path(), "long.ron", |t| t.replace("prefix: \"h\"", &format!("prefix: \"{}\"", "h".repeat(400_000))));
    refused(tmp.path(), &["run", &long, "--set", "households[4].count=10000", "--out", "out"], &["households[4].prefix", "at most 64"]);
    let groups = (0..5).map(|i| format!("Group(prefix: \"g{i}x\", count: 1000000, kwp: Fixed(4))")).collect::<Vec<_>>().join(", ");
    let many = format!("households=[{groups}]");
    refused(tmp.path(), &["check", street, "--set", &many], &["5000000 households in all; at most 4000000"]);
    let deep = format!("seed={}1{}", "A(".repeat(12_000), ")".repeat(12_000));
    refused(tmp.path(), &["check", street, "--set", &deep], &["nested more than 64"]);
    let votes = "ledger.votes_per_household=4294967295";
    refused(tmp.path(), &["check", street, "--set", votes], &["ledger.votes_per_household", "1..=1000"]);
}

#[test]
fn enum_variants_inside_set_values() {
    let street = scenario("street.ron");
    for set in ["ledger.treasury=(fee_policy: Fixed(rate: 0.01), producer_reward_per_block: 0.05)", "households[0].load=Archetype(kind: Retired)"] {
        let o = peergrid(&["check", street.to_str().unwrap(), "--set", set]);
        assert!(o.status.success(), "{set}: {}", stderr(&o));
    }
}

#[test]
fn a_run_too_big_for_the_machine_says_so_and_names_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let street = scenario("street.ron");
    let o = peergrid(&["check", street.to_str().unwrap()]);
    assert!(stdout(&o).contains("memory: about") && stdout(&o).contains("MiB estimated"), "{}", stdout(&o));
    // 4,000,000 households (the most a scenario may have) need about 31 GiB: refused before any
    // is drawn, wherever the machine has less.
    let mem_total_kib: u64 = std::fs::read_to_string("/proc/meminfo").unwrap().lines().find_map(|l| l.strip_prefix("MemTotal:")).unwrap().trim().trim_end_matches(" kB").parse().unwrap();
    if mem_total_kib > 30 << 20 {
        eprintln!("skipped: this machine has more than 30 GiB");
        return;
    }
    let groups = (0..4).map(|i| format!("Group(prefix: \"g{i}x\", count: 1000000, kwp: Fixed(4))")).collect::<Vec<_>>().join(", ");
    let many = format!("households=[{groups}]");
    refused(tmp.path(), &["run", street.to_str().unwrap(), "--set", &many, "--out", "out"], &["4000000 households need about", "--no-memory-check"]);
    // `check` validates it all the same and says what a run would do.
    let o = peergrid(&["check", street.to_str().unwrap(), "--set", "households[4].count=1000000", "--set", "households[4].prefix=p"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_sweep_of_too_many_runs_is_refused_without_listing_them() {
    let tmp = tempfile::tempdir().unwrap();
    let values = (0..30).map(|i| format!("{}", i as f64 / 100.0)).collect::<Vec<_>>().join(", ");
    let axes = (0..7).map(|_| format!("(set: \"households[4].battery_share\", values: [{values}])")).collect::<Vec<_>>().join(", ");
    let file = format!("(scenario: \"{}\", axes: [{axes}])", scenario("street.ron").display());
    std::fs::write(tmp.path().join("big.sweep.ron"), file).unwrap();
    refused(tmp.path(), &["sweep", "big.sweep.ron", "--out", "out"], &["big.sweep.ron", "more than 1000000 runs"]);
}

/// Spawns a run of the 10k district's year into `dir/out` and waits until it holds its lock.
fn start_long_run(dir: &Path) -> std::process::Child {
    let text = std::fs::read_to_string(scenario("district-10k.ron")).unwrap().replace("duration_days: 7", "duration_days: 365");
    std::fs::write(dir.join("year.ron"), text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_peergrid")).current_dir(dir).args(["run", "year.ron", "--out", "out", "--quiet"]).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while !dir.join(".out.peergrid-lock").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the run never claimed its folder");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    n.sort();
    n
}

#[test]
fn one_run_owns_an_output_folder_and_dead_runs_are_cleaned_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut first = start_long_run(dir);
    let street = scenario("street.ron");
    for force in [false, true] {
        let mut args = vec!["run", street.to_str().unwrap(), "--steps", "4", "--out", "out"];
        if force {
            args.push("--force");
        }
        let o = peergrid_in(dir, &args);
        assert_eq!(o.status.code(), Some(2), "force {force}: {}", stderr(&o));
        assert!(stderr(&o).contains("another run is writing out now"), "{}", stderr(&o));
    }
    // A run killed outright leaves its staging folder and lock: the next run into the same
    // parent folder removes them.
    let killed = Command::new("kill").args(["-KILL", &first.id().to_string()]).status().unwrap();
    assert!(killed.success());
    first.wait().unwrap();
    assert!(names(dir).iter().any(|n| n.starts_with(".out.partial-")), "{:?}", names(dir));
    let o = peergrid_in(dir, &["run", street.to_str().unwrap(), "--steps", "4", "--out", "other", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(dir), ["other", "year.ron"]);
    // `peergrid clean` does the same on demand, and leaves a live run's folder alone, and
    // folders no peergrid lock file vouches for, whatever their names.
    let mut second = start_long_run(dir);
    std::fs::create_dir(dir.join(".gone.partial-4000000")).unwrap();
    std::fs::write(dir.join(".gone.peergrid-lock"), "4000000 some-host-long-gone\n").unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    std::fs::write(dir.join(".dead.peergrid-lock"), format!("4000002 {host}\n")).unwrap();
    std::fs::create_dir(dir.join(".dead.partial-4000002")).unwrap();
    std::fs::create_dir(dir.join(".dead.partial-4000003")).unwrap(); // not the dead run's
    let link = dir.join(".linked.peergrid-lock");
    std::os::unix::fs::symlink(dir.join("year.ron"), &link).unwrap();
    std::fs::create_dir(dir.join(".photos.old-2019")).unwrap();
    std::fs::create_dir(dir.join(".x.partial-12")).unwrap();
    let o = peergrid_in(dir, &["clean", "."]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("2 left by dead runs removed"), "the dead run's lock and staging folder: {}", stdout(&o));
    assert!(names(dir).iter().any(|n| n.starts_with(".out.partial-")), "the live run's staging folder stays");
    let kept = [".photos.old-2019", ".x.partial-12", ".gone.partial-4000000", ".gone.peergrid-lock", ".dead.partial-4000003", ".linked.peergrid-lock"];
    for k in kept {
        assert!(std::fs::symlink_metadata(dir.join(k)).is_ok(), "{k} is not known to be a dead run's");
    }
    assert!(std::fs::read_to_string(dir.join("year.ron")).unwrap().contains("duration_days"), "a linked lock file's target is not written");
    for other in kept {
        let p = dir.join(other);
        if std::fs::symlink_metadata(&p).unwrap().is_dir() { std::fs::remove_dir(&p).unwrap() } else { std::fs::remove_file(&p).unwrap() }
    }
    let killed = Command::new("kill").args(["-TERM", &second.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert_eq!(second.wait().unwrap().code(), Some(130));
    assert_eq!(names(dir), ["other", "year.ron"]);
    // A run killed between moving the old results aside and the new ones in: the next run puts
    // the old ones back.
    std::fs::rename(dir.join("other"), dir.join(".other.old-4000001")).unwrap();
    std::fs::write(dir.join(".other.peergrid-lock"), format!("4000001 {host}\n")).unwrap();
    let o = peergrid_in(dir, &["clean", "."]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(dir), ["other", "year.ron"]);
    assert!(dir.join("other/summary.json").exists());
    // `--out .` names no folder: refused before anything runs.
    for out in [".", "other/.", "..", "/"] {
        let o = peergrid_in(dir, &["run", street.to_str().unwrap(), "--steps", "4", "--out", out, "--force"]);
        assert_eq!(o.status.code(), Some(2), "{out}: {}", stderr(&o));
        assert!(stderr(&o).contains("names no folder"), "{}", stderr(&o));
    }
}
