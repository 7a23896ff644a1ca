//! Memory as the kernel accounts it: the process's proportional set size (PSS),
//! which counts a page shared by k processes as 1/k, so shared code and
//! copy-on-write module images are not counted in full.

/// The process's PSS in bytes, from `/proc/self/smaps_rollup`.
pub fn pss_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").expect("/proc/self/smaps_rollup (Linux only)");
    text.lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .expect("a Pss line in smaps_rollup")
}

/// Programs that fit in a GiB, given `programs` took `bytes` together.
pub fn per_gib(programs: usize, bytes: u64) -> f64 {
    let each = bytes.max(1) as f64 / programs as f64;
    (1u64 << 30) as f64 / each
}
