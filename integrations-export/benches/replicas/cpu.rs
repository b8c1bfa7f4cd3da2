//! CPU time a round of the replicas bench took, on Linux (from
//! `/proc/*/task/*/schedstat`): the bench's own process (replicas, fakes)
//! and the PostgreSQL server's processes. Where wall time only says a round
//! was slower, this says who worked more.

use std::path::Path;

/// Nanoseconds on a CPU so far: this process's, and those of `server` (the
/// PostgreSQL server's process id) and its children. `None` where `/proc`
/// cannot tell (not Linux).
pub(crate) fn spent(server: Option<u32>) -> Option<(u64, u64)> {
    let server = server?;
    let ours = process(Path::new("/proc/self"))?;
    let mut theirs = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let path = entry.path();
        let pid = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok());
        if pid == Some(server) || (pid.is_some() && parent(&path) == Some(server)) {
            theirs += process(&path).unwrap_or(0);
        }
    }
    Some((ours, theirs))
}

/// The process's parent id (the field after the parenthesised command
/// name in `stat`).
fn parent(process: &Path) -> Option<u32> {
    let stat = std::fs::read_to_string(process.join("stat")).ok()?;
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().nth(1)?.parse().ok()
}

/// The nanoseconds the process's threads have run.
fn process(process: &Path) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(process.join("task")).ok()?.flatten() {
        // A thread that ended meanwhile has no file left: it counts 0.
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        let ran = schedstat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok());
        total += ran.unwrap_or(0);
    }
    Some(total)
}
