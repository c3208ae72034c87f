//! Description of the machine a benchmark ran on, for the benchmark records.

use std::process::Command;

use anyhow::{ensure, Context};
use time::OffsetDateTime;

/// Reads the 1, 5 and 15 minute load averages from /proc/loadavg.
pub fn load_average() -> anyhow::Result<String> {
    let text = std::fs::read_to_string("/proc/loadavg").context("reading /proc/loadavg")?;
    Ok(text
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" "))
}

/// Describes the processors, memory, kernel, date and load as markdown list items.
pub fn machine_description(load_before: &str, load_after: &str) -> anyhow::Result<String> {
    let processors = command_output("nproc", &[])?;
    let kernel = command_output("uname", &["-srm"])?;
    let meminfo = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no MemTotal line in /proc/meminfo")?;
    let memory_gib = memory_kib as f64 / (1024.0 * 1024.0);
    let date = OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .context("formatting the date")?;
    let workers = std::env::var("LOCAL_MAX_WORKERS").unwrap_or_else(|_| "16 (default)".into());
    Ok(format!(
        "- Processors (`nproc`): {processors}\n\
         - Memory (MemTotal in /proc/meminfo): {memory_gib:.1} GiB\n\
         - Kernel (`uname -srm`): {kernel}\n\
         - Date: {date}\n\
         - Build: debug (the local runtime runs the function binaries in target/debug)\n\
         - Worker processes per function (`LOCAL_MAX_WORKERS`): {workers}\n\
         - Load average (1, 5, 15 min) before and after the run, other work included: \
         {load_before} and {load_after}\n"
    ))
}

fn command_output(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program}"))?;
    ensure!(
        output.status.success(),
        "{program} failed with {}",
        output.status
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
