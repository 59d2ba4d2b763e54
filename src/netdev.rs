//! `cranemu system`'s network options, as `qemu-system-riscv64` spells
//! them:
//!
//! ```text
//! -netdev user,id=ID[,hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,restrict=on|off]
//! -netdev stream,id=ID,server=on|off,addr.type=unix,addr.path=PATH
//! -device virtio-net-device,netdev=ID[,mac=XX:XX:XX:XX:XX:XX]
//! ```
//!
//! A `-netdev` must come before the `-device` that uses it, each is used
//! by one device, and every one must be used. NICs without `mac=` get
//! QEMU's addresses: 52:54:00:12:34:56 for the first, then :57, ...
//! `restrict` is on unless `restrict=off` (QEMU's default is off): see
//! `cranemu_hw::virtio::net`.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use cranemu_hw::virt::VirtioSpec;
use cranemu_hw::virtio::net::{HostFwd, NetBackendSpec, NetConfig, DEFAULT_MAC};

use crate::system::{parse_bool, split_props};

/// The `-netdev`s given so far, and how many NICs took one.
#[derive(Debug, Default)]
pub struct Netdevs {
    /// (id, backend, used by a device).
    defined: Vec<(String, NetBackendSpec, bool)>,
    nics: u8,
}

impl Netdevs {
    /// `-netdev V`.
    ///
    /// # Errors
    /// One line naming the bad property.
    pub fn add(&mut self, v: &str) -> Result<(), String> {
        let e = |m: &str| format!("-netdev {v}: {m}");
        let props = split_props(v);
        let kind = props[0].strip_prefix("type=").unwrap_or(&props[0]);
        let mut id = None;
        let mut hostfwd = Vec::new();
        let mut restrict = true;
        let mut server = None;
        let mut addr_type = None;
        let mut path = None;
        for prop in &props[1..] {
            let Some((k, val)) = prop.split_once('=') else {
                return Err(e(&format!("{prop}: expected KEY=VALUE")));
            };
            match (kind, k) {
                (_, "id") if !val.is_empty() => id = Some(val.to_string()),
                ("user", "hostfwd") => hostfwd.push(parse_hostfwd(val).map_err(|m| e(&m))?),
                ("user", "restrict") => restrict = parse_bool(val, &e("restrict"))?,
                ("stream", "server") => server = Some(parse_bool(val, &e("server"))?),
                ("stream", "addr.type") => addr_type = Some(val.to_string()),
                ("stream", "addr.path") if !val.is_empty() => path = Some(PathBuf::from(val)),
                _ => return Err(e(&format!("{prop}: unsupported property"))),
            }
        }
        let Some(id) = id else {
            return Err(e("needs id=ID"));
        };
        if self.defined.iter().any(|(d, _, _)| *d == id) {
            return Err(e(&format!("a -netdev with id={id} was already given")));
        }
        let backend = match kind {
            "user" => NetBackendSpec::User { hostfwd, restrict },
            "stream" => {
                if addr_type.as_deref() != Some("unix") {
                    return Err(e("only addr.type=unix is supported"));
                }
                let Some(path) = path else {
                    return Err(e("needs addr.path=PATH"));
                };
                let Some(server) = server else {
                    return Err(e("needs server=on or server=off"));
                };
                NetBackendSpec::Stream { server, path }
            }
            other => {
                return Err(e(&format!(
                    "{other}: unsupported network backend (user or stream)"
                )))
            }
        };
        self.defined.push((id, backend, false));
        Ok(())
    }

    /// `-device virtio-net-device,netdev=ID[,mac=MAC]`.
    ///
    /// # Errors
    /// One line: no such `-netdev`, one already in use, a bad MAC.
    pub fn device(&mut self, v: &str) -> Result<VirtioSpec, String> {
        let e = |m: &str| format!("-device {v}: {m}");
        let mut netdev = None;
        let mut mac = None;
        for prop in &split_props(v)[1..] {
            match prop.split_once('=') {
                Some(("netdev", n)) => netdev = Some(n.to_string()),
                Some(("mac", m)) => mac = Some(parse_mac(m).ok_or_else(|| e("bad mac address"))?),
                Some(("id", _)) => {}
                _ => return Err(e(&format!("{prop}: unsupported property"))),
            }
        }
        let Some(n) = netdev else {
            return Err(e("needs netdev=ID"));
        };
        let Some((_, backend, used)) = self.defined.iter_mut().find(|(id, _, _)| *id == n) else {
            return Err(e(&format!("no -netdev with id={n} before it")));
        };
        if *used {
            return Err(e(&format!(
                "-netdev id={n} is already used by another device"
            )));
        }
        *used = true;
        let mac = mac.unwrap_or_else(|| {
            let mut m = DEFAULT_MAC;
            m[5] = m[5].wrapping_add(self.nics);
            m
        });
        self.nics = self.nics.wrapping_add(1);
        Ok(VirtioSpec::Net(NetConfig {
            mac,
            backend: backend.clone(),
        }))
    }

    /// Checks that every `-netdev` has its device.
    ///
    /// # Errors
    /// One line naming the first unused one.
    pub fn finish(&self) -> Result<(), String> {
        match self.defined.iter().find(|(_, _, used)| !used) {
            Some((id, _, _)) => Err(format!(
                "-netdev id={id}: no -device virtio-net-device,netdev={id} uses it"
            )),
            None => Ok(()),
        }
    }
}

/// `tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT` (QEMU's `hostfwd=`;
/// an empty host address is any, an empty guest address the first DHCP
/// address).
fn parse_hostfwd(v: &str) -> Result<HostFwd, String> {
    let bad = |why: &str| {
        format!("hostfwd={v}: {why} (expected tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT)")
    };
    let (proto, rest) = v.split_once(':').ok_or_else(|| bad("no protocol"))?;
    match proto {
        "tcp" | "" => {}
        "udp" => return Err(bad("only tcp is supported")),
        _ => return Err(bad("unknown protocol")),
    }
    let (host, guest) = rest.split_once('-').ok_or_else(|| bad("no '-'"))?;
    let addr = |a: &str| -> Result<Ipv4Addr, String> {
        if a.is_empty() {
            Ok(Ipv4Addr::UNSPECIFIED)
        } else {
            a.parse()
                .map_err(|_| bad(&format!("{a}: not an IPv4 address")))
        }
    };
    let port = |p: &str| -> Result<u16, String> {
        p.parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| bad(&format!("{p}: not a port (1 to 65535)")))
    };
    let (ha, hp) = host.rsplit_once(':').ok_or_else(|| bad("no host port"))?;
    let (ga, gp) = guest.rsplit_once(':').ok_or_else(|| bad("no guest port"))?;
    Ok(HostFwd {
        host_addr: addr(ha)?,
        host_port: port(hp)?,
        guest_addr: addr(ga)?,
        guest_port: port(gp)?,
    })
}

/// `XX:XX:XX:XX:XX:XX` (hex), not multicast.
fn parse_mac(m: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = m.split(':');
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    (parts.next().is_none() && out[0] & 1 == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netdevs_and_nics() {
        let mut n = Netdevs::default();
        n.add("user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp::2222-10.0.2.15:22")
            .unwrap();
        n.add("stream,id=s0,server=on,addr.type=unix,addr.path=/tmp/s")
            .unwrap();
        assert!(n.finish().is_err());
        let a = n.device("virtio-net-device,netdev=n0").unwrap();
        let b = n
            .device("virtio-net-device,netdev=s0,mac=52:54:00:aa:bb:cc")
            .unwrap();
        n.finish().unwrap();
        let VirtioSpec::Net(a) = a else { panic!() };
        assert_eq!(a.mac, DEFAULT_MAC);
        assert_eq!(
            a.backend,
            NetBackendSpec::User {
                hostfwd: vec![
                    HostFwd {
                        host_addr: Ipv4Addr::LOCALHOST,
                        host_port: 8080,
                        guest_addr: Ipv4Addr::UNSPECIFIED,
                        guest_port: 80
                    },
                    HostFwd {
                        host_addr: Ipv4Addr::UNSPECIFIED,
                        host_port: 2222,
                        guest_addr: Ipv4Addr::new(10, 0, 2, 15),
                        guest_port: 22
                    }
                ],
                restrict: true
            }
        );
        let VirtioSpec::Net(b) = b else { panic!() };
        assert_eq!(b.mac, [0x52, 0x54, 0, 0xaa, 0xbb, 0xcc]);
        assert_eq!(
            b.backend,
            NetBackendSpec::Stream {
                server: true,
                path: "/tmp/s".into()
            }
        );
    }

    #[test]
    fn bad_netdevs() {
        for (v, want) in [
            ("user", "needs id"),
            ("tap,id=t", "unsupported network backend"),
            ("user,id=a,hostfwd=udp::1-:2", "only tcp"),
            ("user,id=a,hostfwd=tcp::1-:0", "not a port"),
            ("user,id=a,hostfwd=tcp:1.2.3:1-:2", "not an IPv4"),
            ("user,id=a,hostfwd=tcp::1", "no '-'"),
            ("user,id=a,net=10.0.3.0/24", "unsupported property"),
            (
                "stream,id=a,server=on,addr.type=inet,addr.path=p",
                "addr.type=unix",
            ),
            ("stream,id=a,addr.type=unix,addr.path=p", "server="),
            ("stream,id=a,server=on,addr.type=unix", "addr.path"),
        ] {
            let err = Netdevs::default().add(v).unwrap_err();
            assert!(err.contains(want), "{v}: {err}");
        }
        let mut n = Netdevs::default();
        n.add("user,id=a").unwrap();
        assert!(n.add("user,id=a").unwrap_err().contains("already"));
        assert!(n
            .device("virtio-net-device,netdev=b")
            .unwrap_err()
            .contains("no -netdev with id=b"));
        assert!(n
            .device("virtio-net-device,netdev=a,mac=01:00:00:00:00:00")
            .unwrap_err()
            .contains("mac"));
        n.device("virtio-net-device,netdev=a").unwrap();
        assert!(n
            .device("virtio-net-device,netdev=a")
            .unwrap_err()
            .contains("already used"));
    }
}
