//! What `/proc` says about a process: its resident memory and open file descriptors.

use anyhow::Context as _;

/// Resident set size of process `pid`, in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))?;
    Ok(kib * 1024)
}

/// File descriptors process `pid` has open (entries of `/proc/PID/fd`).
pub fn open_fds(pid: u32) -> anyhow::Result<usize> {
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .with_context(|| format!("reading /proc/{pid}/fd"))?;
    Ok(entries.count())
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_memory_and_descriptors() {
        let pid = std::process::id();
        let rss = super::rss_bytes(pid).unwrap();
        assert!((1 << 20..1 << 34).contains(&rss), "{rss}");
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let with = super::open_fds(pid).unwrap();
        drop(file);
        assert_eq!(super::open_fds(pid).unwrap(), with - 1);
    }
}
