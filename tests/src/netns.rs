//! Hosts on a network for tests: each host is a Linux network namespace with
//! its own address, joined to the others by a veth pair on one bridge. A host's
//! link can be cut and restored, and traffic between two hosts blocked, to test
//! what crosses a network. Needs root (`ip netns`); [`Net::create`] says why when
//! it cannot make the namespaces, so tests can skip with a clear message.

use std::process::Command;

use anyhow::{Context, Result, bail};

/// One host: its namespace and address.
pub struct Host {
    /// The namespace's name.
    pub ns: String,
    /// Its address on the bridge.
    pub ip: String,
    /// Its link's end in the root namespace (cut it to cut the host off).
    link: String,
}

/// A bridge and hosts on it, removed on drop.
pub struct Net {
    bridge: String,
    /// The hosts, in the order asked for.
    pub hosts: Vec<Host>,
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output().context("running `ip` (iproute2)")?;
    if !out.status.success() {
        bail!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

impl Net {
    /// A bridge with `hosts` namespaces on it, named from `tag` (a few letters,
    /// unique per test). `Err` says why namespaces cannot be made here.
    pub fn create(tag: &str, hosts: usize) -> Result<Net> {
        let pid = std::process::id();
        let id = format!("{}{:x}", tag, pid & 0xfff);
        // An address block per process and tag: tests running at once (and other
        // test runs on the machine) do not meet.
        let block = format!("10.{}.{}", 100 + pid % 150, tag.bytes().map(u32::from).sum::<u32>() % 250);
        let bridge = format!("sb{id}");
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        let mut net = Net { bridge: bridge.clone(), hosts: Vec::new() };
        ip(&["addr", "add", &format!("{block}.1/24"), "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        for i in 0..hosts {
            let ns = format!("spindle-{id}-{i}");
            let (outer, inner) = (format!("so{id}{i}"), format!("si{id}{i}"));
            let addr = format!("{block}.{}", 10 + i);
            ip(&["netns", "add", &ns])?;
            net.hosts.push(Host { ns: ns.clone(), ip: addr.clone(), link: outer.clone() });
            ip(&["link", "add", &outer, "type", "veth", "peer", "name", &inner])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "master", &bridge])?;
            ip(&["link", "set", &outer, "up"])?;
            ip(&["netns", "exec", &ns, "ip", "addr", "add", &format!("{addr}/24"), "dev", &inner])?;
            ip(&["netns", "exec", &ns, "ip", "link", "set", &inner, "up"])?;
            ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    /// `program` run on host `i`.
    pub fn command(&self, i: usize, program: &std::path::Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.hosts[i].ns]).arg(program);
        cmd
    }

    /// Cuts host `i` off the network (its link goes down).
    pub fn cut(&self, i: usize) -> Result<()> {
        ip(&["link", "set", &self.hosts[i].link, "down"])
    }

    /// Brings host `i`'s link back up.
    pub fn restore(&self, i: usize) -> Result<()> {
        ip(&["link", "set", &self.hosts[i].link, "up"])
    }

    /// Blocks all traffic from host `i` to host `j` (and so TCP both ways).
    pub fn block(&self, i: usize, j: usize) -> Result<()> {
        let to = format!("{}/32", self.hosts[j].ip);
        ip(&["netns", "exec", &self.hosts[i].ns, "ip", "route", "add", "prohibit", &to])
    }

    /// Lifts [`Net::block`].
    pub fn unblock(&self, i: usize, j: usize) -> Result<()> {
        let to = format!("{}/32", self.hosts[j].ip);
        ip(&["netns", "exec", &self.hosts[i].ns, "ip", "route", "del", "prohibit", &to])
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for h in &self.hosts {
            let _ = ip(&["link", "del", &h.link]);
            let _ = ip(&["netns", "del", &h.ns]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}
