//! The comparison harness: the same work done three ways in one run — bare
//! wasmtime 48 (the floor), miniapp through its public host library, and Extism
//! 1.30 — each figure printed with its median and spread (p10–p90) and the
//! ratios; then miniapp's durable paths beside the bare SQLite commit rate.
//!
//! ```sh
//! RUST_BACKTRACE=0 cargo run --release
//! RUST_BACKTRACE=0 cargo run --release -- --quick
//! ```
//!
//! `--only TEXT` measures only the comparison's figures whose name holds TEXT
//! (`--only "round trip"`), to compare one change quickly.
//!
//! `--profile <cold-start|instantiate|round-trip|event>` runs only one of miniapp's
//! figures (`event`: the round trip without a host call), for
//! a long time, to record under `perf`; `--profile floor:round-trip` runs the
//! floor's, to compare the two profiles.

mod decisions;
mod extism;
mod floor;
mod memory;
mod miniapp;
mod stats;
mod storefront;
mod throughput;
mod work;

use stats::{Summary, Unit, number};
use work::System;

/// How many samples each figure takes.
struct Plan {
    /// Rounds the cold starts, instantiations and round trips are taken in.
    rounds_micro: usize,
    cold_cached: usize,
    cold_first: usize,
    instantiate: usize,
    round_trip: usize,
    idle_programs: usize,
    idle_rounds: usize,
    rounds: usize,
    payments: usize,
    links: usize,
    store_cold: usize,
    store_launches: usize,
    store_taps: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            rounds_micro: 10,
            cold_cached: 200,
            cold_first: 10,
            instantiate: 20_000,
            round_trip: 100_000,
            idle_programs: 5_000,
            idle_rounds: 5,
            rounds: 5,
            payments: 300,
            links: 1_000,
            store_cold: 100,
            store_launches: 2_000,
            store_taps: 20_000,
        }
    }

    fn quick() -> Plan {
        Plan {
            rounds_micro: 2,
            cold_cached: 10,
            cold_first: 2,
            instantiate: 500,
            round_trip: 2_000,
            idle_programs: 500,
            idle_rounds: 2,
            rounds: 2,
            payments: 50,
            links: 100,
            store_cold: 10,
            store_launches: 100,
            store_taps: 500,
        }
    }
}

/// One row of the comparison: a figure on each system.
struct Row {
    figure: &'static str,
    target: &'static str,
    values: Vec<Summary>,
    /// miniapp ÷ floor and Extism ÷ miniapp: the medians of the rounds' ratios.
    ratios: (f64, f64),
}

fn main() {
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        eprintln!("note: RUST_BACKTRACE is set; every error value captures a backtrace. Run with RUST_BACKTRACE=0.");
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, system, programs] = args.as_slice()
        && flag == IDLE_CHILD
    {
        idle_child(system, programs.parse().expect("a number of programs"));
        return;
    }
    if let Some(figure) = args.iter().position(|a| a == "--profile").and_then(|i| args.get(i + 1)) {
        profile(figure);
        return;
    }
    let plan = if args.iter().any(|a| a == "--quick") { Plan::quick() } else { Plan::full() };
    if args.iter().any(|a| a == "--storefront") {
        storefronts(&plan);
        return;
    }
    if args.iter().any(|a| a == "--durable") {
        durable(&plan);
        println!();
        throughput(&plan);
        return;
    }
    println!("building the systems…");
    let mut systems: Vec<Box<dyn System>> = vec![system("floor", 64), system("miniapp", 64), system("extism", 64)];

    // `--only TEXT`: the figures whose name holds TEXT, and nothing after the table.
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    let mut rows = Vec::new();
    // Each figure is taken in rounds, the systems one after another within a round,
    // so that a slow spell of the machine falls on all of them alike; the ratios
    // are the medians of the rounds' ratios.
    let mut measure =
        |figure: &'static str, target, rounds: usize, run: &mut dyn FnMut(&mut dyn System, usize) -> Summary| {
            if only.as_deref().is_some_and(|only| !figure.contains(only)) {
                return;
            }
            let mut parts: Vec<Vec<Summary>> = vec![Vec::new(); systems.len()];
            for _ in 0..rounds {
                for (system, parts) in systems.iter_mut().zip(&mut parts) {
                    parts.push(run(system.as_mut(), rounds));
                }
            }
            let ratio = |over: usize, under: usize| {
                let per_round: Vec<f64> =
                    (0..rounds).map(|r| parts[over][r].median() / parts[under][r].median()).collect();
                Summary::of_values(per_round, Unit::Rate).median()
            };
            let ratios = (ratio(1, 0), ratio(2, 1));
            let values: Vec<Summary> = systems
                .iter()
                .zip(&parts)
                .map(|(system, parts)| {
                    let summary = Summary::merge(parts);
                    println!("  {figure:<34} {:<22} {}", system.name(), summary.describe());
                    summary
                })
                .collect();
            rows.push(Row { figure, target, values, ratios });
        };
    measure("cold start, cached module", "≤ 150 µs", plan.rounds_micro, &mut |s, r| {
        Summary::of_durations(&s.cold_start_cached(plan.cold_cached / r), Unit::Micros)
    });
    measure("cold start, cached module, new host", "printed", plan.rounds_micro, &mut |s, r| {
        Summary::of_durations(&s.cold_start_new_host(plan.cold_cached / r), Unit::Micros)
    });
    measure("cold start, first ever (compiles)", "printed", 1, &mut |s, _| {
        Summary::of_durations(&s.cold_start_first(plan.cold_first), Unit::Millis)
    });
    measure("instantiate a ready program", "≤ 10 µs", plan.rounds_micro, &mut |s, r| {
        Summary::of_durations(&s.instantiate(plan.instantiate / r), Unit::Micros)
    });
    measure("event round trip (1 host call)", "≤ 3.5 µs", plan.rounds_micro, &mut |s, r| {
        Summary::of_durations(&s.round_trip(plan.round_trip / r, &work::tap()), Unit::Micros)
    });
    measure("event round trip, no host call", "—", plan.rounds_micro, &mut |s, r| {
        Summary::of_durations(&s.round_trip(plan.round_trip / r, &work::ignored_tap()), Unit::Micros)
    });
    measure("idle programs per GiB (PSS)", "≥ 20,000", 1, &mut |s, _| {
        // Each measurement in a fresh process: memory freed by an earlier round stays
        // resident in the allocator and would hide the next round's growth.
        let values = (0..plan.idle_rounds)
            .map(|_| memory::per_gib(plan.idle_programs, idle_in_child(s.name(), plan.idle_programs)))
            .collect();
        Summary::of_values(values, Unit::Rate)
    });

    println!();
    println!(
        "| figure | target | floor (bare wasmtime 48) | miniapp | Extism 1.30 | miniapp ÷ floor | Extism ÷ miniapp |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in &rows {
        let [floor, miniapp, extism] = [&row.values[0], &row.values[1], &row.values[2]];
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.2} |",
            row.figure,
            row.target,
            floor.describe(),
            miniapp.describe(),
            extism.describe(),
            row.ratios.0,
            row.ratios.1,
        );
    }
    drop(systems);
    if only.is_some() {
        return;
    }

    println!();
    storefronts(&plan);
    println!();
    durable(&plan);
    println!();
    throughput(&plan);
}

/// Payments and storage writes per second on each backend, with 1 and with 64
/// programs at once, beside the backend's bare commit rate; the host's own part
/// of a payment with the simulators' RSA work taken out.
fn throughput(plan: &Plan) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let rsa = throughput::rsa_per_payment(40);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The rate with `rsa` of work per operation taken out, that work spread over
    // as many cores as there are programs to run it.
    let host_part = |rate: f64, programs: usize| {
        let spread = rsa.as_secs_f64() / programs.min(cores) as f64;
        let left = 1.0 / rate - spread;
        (left > 0.0).then(|| 1.0 / left)
    };
    let (each_1, each_64) = (plan.payments, (plan.payments / 8).max(4));
    println!(
        "| backend | work | bare commits/s | 1 program: per second | ÷ bare | 64 programs: per second | ÷ bare | 64, host's part (RSA out): per second, ÷ bare |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for backend in throughput::backends() {
        let dir = tempfile::tempdir().expect("temp dir");
        let bare = backend.bare_commits_per_second(dir.path(), plan.payments);
        let host = backend.host(&dir.path().join("host"));
        for (name, work) in [("payments", throughput::Work::Pay), ("storage writes", throughput::Work::Store)] {
            let one = runtime.block_on(throughput::per_second(&host, work, 1, each_1));
            let many = runtime.block_on(throughput::per_second(&host, work, 64, each_64));
            let part = match (work, host_part(many, 64)) {
                (throughput::Work::Pay, Some(rate)) => format!("{}, {:.2}", number(rate), rate / bare),
                (throughput::Work::Pay, None) => "—".to_string(),
                (throughput::Work::Store, _) => "(no RSA)".to_string(),
            };
            println!(
                "| {} | {name} | {} | {} | {:.3} | {} | {:.3} | {part} |",
                backend.name,
                number(bare),
                number(one),
                one / bare,
                number(many),
                many / bare
            );
        }
    }
    println!(
        "(one round each; 1 program: {each_1} operations, 64 programs: {each_64} each; RSA per payment {:.0} µs, \
         2 signatures + 2 verifications as the simulators make them; the host's part takes that out, spread over \
         min(programs, {cores} cores))",
        rsa.as_secs_f64() * 1e6
    );
}

/// The storefront compiled from Rust and written in JavaScript (pre-initialised).
fn storefronts(plan: &Plan) {
    let scratch = tempfile::tempdir().expect("temp dir");
    let measured: Vec<(&str, storefront::Figures)> = storefront::storefronts(scratch.path())
        .into_iter()
        .map(|(name, dir)| (name, storefront::measure(&dir, plan.store_cold, plan.store_launches, plan.store_taps)))
        .collect();
    println!(
        "| program | cold start, cached → home page | instantiate | launch → first view (instantiate included) | tap that renders a page |"
    );
    println!("|---|---|---|---|---|");
    for (name, figures) in &measured {
        println!(
            "| {name} | {} | {} | {} | {} |",
            figures.cold_start.describe(),
            figures.instantiate.describe(),
            figures.first_view.describe(),
            figures.tap.describe()
        );
    }
    if let [(_, rust), (_, js), (_, unsnapshotted)] = measured.as_slice() {
        for (name, figures) in [("JavaScript ÷ Rust", js), ("not pre-initialised ÷ Rust", unsnapshotted)] {
            println!(
                "| {name} | {:.2} | {:.2} | {:.2} | {:.2} |",
                figures.cold_start.median() / rust.cold_start.median(),
                figures.instantiate.median() / rust.instantiate.median(),
                figures.first_view.median() / rust.first_view.median(),
                figures.tap.median() / rust.tap.median()
            );
        }
    }
    println!(
        "({} cold starts, {} launches, {} taps each; a tap is \"more deals\": a redirect, its page event, eight deals rendered)",
        plan.store_cold, plan.store_launches, plan.store_taps
    );
}

/// Payments and link decisions, beside the bare commit rate, `plan.rounds` times.
fn durable(plan: &Plan) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (mut bare, mut payments, mut links) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.rounds {
        let dir = tempfile::tempdir().expect("temp dir");
        bare.push(decisions::bare_commits_per_second(dir.path(), plan.payments));
        payments.push(runtime.block_on(decisions::payments_per_second(&dir.path().join("pay"), plan.payments)));
        links.push(runtime.block_on(decisions::link_decisions_per_second(&dir.path().join("link"), plan.links)));
    }
    let bare = Summary::of_values(bare, Unit::Rate);
    let payments = Summary::of_values(payments, Unit::Rate);
    let links = Summary::of_values(links, Unit::Rate);
    println!("| durable path ({} rounds) | per second | ÷ bare commits |", plan.rounds);
    println!("|---|---|---|");
    println!("| bare SQLite `synchronous=FULL` commits | {} | 1 |", bare.describe());
    println!(
        "| payments through miniapp ({} per round) | {} | {:.3} |",
        plan.payments,
        payments.describe(),
        payments.median() / bare.median()
    );
    println!(
        "| link decisions through miniapp ({} per round) | {} | {:.3} |",
        plan.links,
        links.describe(),
        links.median() / bare.median()
    );
    println!("(bare commits/s median {})", number(bare.median()));
}

/// Runs one of miniapp's figures (or, as `floor:<figure>`, the floor's) for about
/// ten seconds, for a profiler.
fn profile(figure: &str) {
    let (name, figure) = figure.split_once(':').unwrap_or(("miniapp", figure));
    let (samples, unit) = match figure {
        "cold-start" | "cold-start-new-host" => (10_000, Unit::Micros),
        "instantiate" => (2_000_000, Unit::Micros),
        "round-trip" | "event" => (2_000_000, Unit::Micros),
        other => {
            eprintln!("--profile takes cold-start, cold-start-new-host, instantiate, round-trip or event, not `{other}`");
            std::process::exit(2);
        }
    };
    if name != "miniapp" && name != "floor" {
        eprintln!("--profile runs miniapp's figures or, as `floor:<figure>`, the floor's, not `{name}`'s");
        std::process::exit(2);
    }
    let mut system = system(name, 64);
    let durations = match figure {
        "cold-start" => system.cold_start_cached(samples),
        "cold-start-new-host" => system.cold_start_new_host(samples),
        "instantiate" => system.instantiate(samples),
        "event" => system.round_trip(samples, &work::ignored_tap()),
        _ => system.round_trip(samples, &work::tap()),
    };
    println!("{name} {figure}: {}", Summary::of_durations(&durations, unit).describe());
}

const IDLE_CHILD: &str = "--idle-child";

/// A system by its short name, with a pool of `slots` programs.
fn system(name: &str, slots: u32) -> Box<dyn System> {
    match name {
        "floor" => Box::new(floor::Floor::new(slots)),
        "miniapp" => Box::new(miniapp::Miniapp::new(slots)),
        "extism" => Box::new(extism::Extism::new()),
        other => panic!("no system `{other}`"),
    }
}

/// The short name of a system, from the name it prints.
fn short_name(printed: &str) -> &'static str {
    match printed {
        n if n.starts_with("floor") => "floor",
        n if n.starts_with("miniapp") => "miniapp",
        _ => "extism",
    }
}

/// Runs this binary to measure `programs` idle programs of `printed` in a fresh
/// process; the bytes of PSS they took.
fn idle_in_child(printed: &str, programs: usize) -> u64 {
    let output = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args([IDLE_CHILD, short_name(printed), &programs.to_string()])
        .output()
        .expect("run the idle-memory child");
    assert!(output.status.success(), "idle child failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("the child prints a byte count")
}

/// The child side: build the system, hold `programs` launched programs, print the
/// PSS they added.
fn idle_child(name: &str, programs: usize) {
    let mut system = system(name, programs as u32 + 16);
    println!("{}", system.idle_memory(programs));
}
