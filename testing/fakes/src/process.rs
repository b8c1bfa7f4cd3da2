//! The process table, for tests that a server's processes are gone: found
//! by a tag on their command line.

use std::time::Duration;

/// Processes whose command line contains `tag`.
pub fn processes_tagged(tag: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        // A substring match: `npm exec` rewrites its title into one argument.
        if cmdline
            .windows(tag.len())
            .any(|window| window == tag.as_bytes())
        {
            // A zombie has been killed but not yet reaped: not running.
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            if !stat
                .split(") ")
                .nth(1)
                .is_some_and(|rest| rest.starts_with('Z'))
            {
                found.push(pid);
            }
        }
    }
    found
}

/// Waits (at most 5 s) until no process carries `tag`, and fails if one
/// still does.
pub async fn assert_no_process(tag: &str) {
    for _ in 0..100 {
        if processes_tagged(tag).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "processes left behind for {tag}: {:?}",
        processes_tagged(tag)
    );
}
