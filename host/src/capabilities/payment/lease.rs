//! Who is working on an order. A host process that moves an order into a state
//! that is not final writes itself as the order's owner with a lease (an
//! expiry time), and renews its leases while it runs. Another host takes an
//! order over — to reconcile it — only when the lease has run out (its owner
//! died, on whatever machine) or at once when the owner is a process on this
//! machine that no longer runs (a crash, seen without waiting). The take-over is
//! a compare-and-set on the owner and lease it saw, so exactly one host wins it.
//!
//! Timing decides only how soon a dead host's orders are reconciled, never
//! whether money is right: a host too slow to renew may lose an order to a
//! reconciler, which closes it at the provider before failing it, and the slow
//! host's own next step then finds the order moved and stops.

/// This host process as an order's owner: `machine/pid/start/nonce`, where
/// `start` is the process's start time (so a reused pid is not mistaken for the
/// owner) and `nonce` tells hosts in one process apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(String);

impl Owner {
    /// A new owner for a host in this process.
    pub fn this_process() -> Owner {
        let mut nonce = [0u8; 4];
        let _ = getrandom::fill(&mut nonce);
        let pid = std::process::id();
        Owner(format!("{}/{pid}/{}/{}", machine(), start_time(pid).unwrap_or(0), hex::encode(nonce)))
    }

    /// The owner as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the owner `stored` is a process on this machine that no longer
    /// runs. `false` when that cannot be told (another machine, another system,
    /// an owner written by an earlier version): then only its lease counts.
    pub fn is_gone(stored: &str) -> bool {
        let mut parts = stored.split('/');
        let (Some(machine_id), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else { return false };
        if machine_id != machine() || start == 0 || !cfg!(target_os = "linux") {
            return false;
        }
        start_time(pid) != Some(start)
    }
}

/// This machine's id (systemd's machine id, else the host name).
fn machine() -> String {
    let read = |path: &str| std::fs::read_to_string(path).ok().map(|text| text.trim().to_string());
    read("/etc/machine-id")
        .or_else(|| read("/proc/sys/kernel/hostname"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .unwrap_or_else(|| "unknown".to_string())
}

/// When process `pid` started, in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`), if it runs.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = stat.rsplit_once(')')?.1;
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_not_gone_and_a_dead_one_is() {
        let me = Owner::this_process();
        assert!(!Owner::is_gone(me.as_str()), "{me:?}");
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid).expect("a running child has a start time");
        let owner = format!("{}/{pid}/{start}/00", machine());
        assert!(!Owner::is_gone(&owner));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(Owner::is_gone(&owner));
        assert!(!Owner::is_gone("another-machine/1/1/00"), "another machine's owner is judged by its lease");
        assert!(!Owner::is_gone("garbage"));
    }
}
